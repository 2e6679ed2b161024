//! The delivery step: hands one batch to the sink and settles every
//! outcome. A delivered event is counted; a refused one is dead-lettered
//! (with the destination's status and answer) or, under `onFailure: fault`
//! or when the refusal says so, stops the connector. Whatever ends the
//! batch early says how far it was handled ([`Delivery::Fault`]), so the
//! run loop checkpoints exactly what was delivered or dead-lettered.

use crate::connector::DeadLetter;
use crate::sinks::{DeliveryOutcome, Sink};
use crate::store::{Position, RecordedEvent};

use super::context::RunContext;
use super::dead_letters::{write_dead_letter, DeadLetterWrite};
use super::fault::Fault;

/// How a batch's delivery ended.
#[derive(Debug)]
pub(super) enum Delivery {
    /// Every event was delivered or dead-lettered.
    Done,
    /// The pipeline was asked to stop first; the batch is delivered again
    /// after a restart.
    Cancelled,
    /// The connector must stop; every event before `handled_up_to`
    /// (inclusive) was handled.
    Fault {
        handled_up_to: Option<Position>,
        fault: Fault,
    },
}

impl Delivery {
    /// The connector stops and no event of the batch counts as handled.
    pub fn fault_before_any(fault: Fault) -> Self {
        Delivery::Fault {
            handled_up_to: None,
            fault,
        }
    }
}

/// Delivers one batch and settles every refused event.
pub(super) async fn deliver(
    ctx: &RunContext,
    sink: &mut dyn Sink,
    events: &[RecordedEvent],
) -> Delivery {
    let outcomes = match sink.deliver(events).await {
        Ok(outcomes) if outcomes.len() == events.len() => outcomes,
        // A sink told to stop at the first refused event sends nothing after it.
        Ok(outcomes)
            if outcomes.len() < events.len()
                && matches!(outcomes.last(), Some(DeliveryOutcome::Rejected(_))) =>
        {
            outcomes
        }
        Ok(outcomes) => {
            return Delivery::fault_before_any(Fault::OutcomeCount {
                answered: outcomes.len(),
                sent: events.len(),
            })
        }
        Err(e) => return Delivery::fault_before_any(Fault::Sink(e)),
    };
    let status = &ctx.status;
    // Transformed events may share a position (a fan-out): a position is
    // handled once every event at it is.
    let mut handled_up_to = None;
    let mut current = None;
    // Counted once per batch, and before any early return.
    let mut delivered = 0;
    for (event, outcome) in events.iter().zip(outcomes) {
        if current != Some(event.position) {
            handled_up_to = current;
            current = Some(event.position);
        }
        let rejection = match outcome {
            DeliveryOutcome::Delivered => {
                delivered += 1;
                continue;
            }
            DeliveryOutcome::Rejected(rejection) => rejection,
        };
        status.add_delivered(std::mem::take(&mut delivered));
        status.add_failed(1);
        let message = format!(
            "the sink refused event {} ({}@{}, position {}): {}",
            event.id, event.stream, event.revision, event.position, rejection.reason
        );
        if rejection.stops_connector || ctx.faults_on_failure() {
            return Delivery::Fault {
                handled_up_to,
                fault: Fault::EventRefused(message),
            };
        }
        status.record_error(message);
        let letter = DeadLetter {
            event,
            stage: "sink",
            reason: &rejection.reason,
            status: rejection.status,
            response: rejection.response.as_deref(),
        };
        if let Some(stop) = dead_letter(ctx, letter, handled_up_to).await {
            return stop;
        }
    }
    status.add_delivered(delivered);
    Delivery::Done
}

/// Writes a dead letter; then going on (`None`, it is counted), or
/// stopping because the pipeline was cancelled or the letter cannot be
/// written (every event before `handled_up_to`, inclusive, was handled).
pub(super) async fn dead_letter(
    ctx: &RunContext,
    letter: DeadLetter<'_>,
    handled_up_to: Option<Position>,
) -> Option<Delivery> {
    let written = write_dead_letter(
        &ctx.repository,
        &ctx.connector,
        letter,
        &ctx.status,
        &ctx.cancel,
    )
    .await;
    match written {
        DeadLetterWrite::Written => {
            ctx.status.add_dead_lettered(1);
            None
        }
        DeadLetterWrite::Cancelled => Some(Delivery::Cancelled),
        DeadLetterWrite::Failed(message) => Some(Delivery::Fault {
            handled_up_to,
            fault: Fault::DeadLetter(message),
        }),
    }
}
