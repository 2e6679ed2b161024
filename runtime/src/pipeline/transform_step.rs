//! The transform step: runs the connector's chain of WebAssembly stages
//! over a batch (the whole batch again, with back-off, when a stage asks
//! for a retry) and settles each input a stage failed: it is dead-lettered,
//! or under `onFailure: fault` the batch is cut before it and the connector
//! stops once what came before was delivered. What the stages emitted goes
//! on to delivery ([`Transformed`]). Without stages the batch goes through
//! as it is.

use crate::connector::DeadLetter;
use crate::store::{Position, RecordedEvent};

use super::backoff::pipeline_backoff;
use super::context::RunContext;
use super::dead_letters::{write_dead_letter, DeadLetterWrite};
use super::fault::Fault;
use super::transforms::{Chain, ChainError, InputResult};

/// What the chain made of a batch.
pub(super) enum Transformed {
    /// Every input was handled: `outgoing` goes to the sink.
    All(Vec<RecordedEvent>),
    /// The connector stops once `outgoing` is delivered; every input up to
    /// `handled_up_to` (inclusive) was handled by then.
    Cut {
        outgoing: Vec<RecordedEvent>,
        handled_up_to: Option<Position>,
        fault: Fault,
    },
    /// The pipeline was asked to stop first.
    Cancelled,
}

/// Runs the transform chain over `events` and settles the inputs a stage
/// failed.
pub(super) async fn transform(
    ctx: &RunContext,
    chain: &mut Chain,
    events: Vec<RecordedEvent>,
) -> Transformed {
    if chain.is_empty() {
        return Transformed::All(events);
    }
    let status = &ctx.status;
    let mut backoff = pipeline_backoff();
    let results = loop {
        match chain.run(&events).await {
            Ok(results) => break results,
            Err(retry @ ChainError::Retry { .. }) => {
                status.set_retrying(true);
                status.record_error(format!("{retry} (retrying the batch)"));
                if !backoff.sleep_or_cancel(&ctx.cancel).await {
                    return Transformed::Cancelled;
                }
            }
            Err(fault @ ChainError::Fault { .. }) => {
                return Transformed::Cut {
                    outgoing: Vec::new(),
                    handled_up_to: None,
                    fault: Fault::Chain(fault),
                }
            }
        }
    };
    let mut outgoing = Vec::with_capacity(events.len());
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
                    return Transformed::Cut {
                        outgoing,
                        handled_up_to,
                        fault: Fault::EventRefused(message),
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
                match write_dead_letter(
                    &ctx.repository,
                    &ctx.connector,
                    letter,
                    status,
                    &ctx.cancel,
                )
                .await
                {
                    DeadLetterWrite::Written => status.add_dead_lettered(1),
                    DeadLetterWrite::Cancelled => return Transformed::Cancelled,
                    DeadLetterWrite::Failed(message) => {
                        return Transformed::Cut {
                            outgoing,
                            handled_up_to,
                            fault: Fault::DeadLetter(message),
                        }
                    }
                }
            }
        }
        handled_up_to = Some(event.position);
    }
    Transformed::All(outgoing)
}
