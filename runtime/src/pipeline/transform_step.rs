//! The transform step: runs the connector's chain of WebAssembly stages
//! over a batch (the whole batch again, with back-off, when a stage asks
//! for a retry), settles each input a stage failed (dead letter, or under
//! `onFailure: fault` delivery of what came before it and then a fault),
//! and hands what the stages emitted to the delivery step. Without stages
//! the batch goes straight to delivery.

use crate::connector::DeadLetter;
use crate::sinks::Sink;
use crate::store::RecordedEvent;

use super::backoff::pipeline_backoff;
use super::context::RunContext;
use super::delivery::{dead_letter, deliver, Delivery};
use super::fault::Fault;
use super::transforms::{Chain, ChainError, InputResult};

/// Runs the transform chain over a batch, settles the events a stage
/// failed, and delivers what is left.
pub(super) async fn transform_and_deliver(
    ctx: &RunContext,
    chain: &mut Chain,
    sink: &mut dyn Sink,
    events: &[RecordedEvent],
) -> Delivery {
    if chain.is_empty() {
        return deliver(ctx, sink, events).await;
    }
    let status = &ctx.status;
    let mut backoff = pipeline_backoff();
    let results = loop {
        match chain.run(events).await {
            Ok(results) => break results,
            Err(retry @ ChainError::Retry { .. }) => {
                status.set_retrying(true);
                status.record_error(format!("{retry} (retrying the batch)"));
                if !backoff.sleep_or_cancel(&ctx.cancel).await {
                    return Delivery::Cancelled;
                }
            }
            Err(fault @ ChainError::Fault { .. }) => {
                return Delivery::fault_before_any(Fault::Chain(fault))
            }
        }
    };
    let mut outgoing = Vec::new();
    let mut handled_up_to = None;
    for (event, result) in events.iter().zip(results) {
        match result {
            InputResult::Emitted(derived) => outgoing.extend(derived),
            InputResult::Dropped { .. } => status.add_filtered_out(1),
            InputResult::Failed { stage, error } => {
                status.add_failed(1);
                let message = format!(
                    "{stage} failed event {} ({}@{}, position {}): {}",
                    event.id, event.stream, event.revision, event.position, error.message
                );
                if ctx.faults_on_failure() {
                    // Deliver what came before the failed event, then stop.
                    return match deliver(ctx, sink, &outgoing).await {
                        Delivery::Done => Delivery::Fault {
                            handled_up_to,
                            fault: Fault::EventRefused(message),
                        },
                        other => other,
                    };
                }
                status.record_error(message);
                let letter = DeadLetter {
                    event,
                    stage: &stage,
                    reason: &error.message,
                    status: None,
                    response: None,
                };
                if let Some(stop) = dead_letter(ctx, letter, handled_up_to).await {
                    return stop;
                }
            }
        }
        handled_up_to = Some(event.position);
    }
    if outgoing.is_empty() {
        return Delivery::Done;
    }
    deliver(ctx, sink, &outgoing).await
}
