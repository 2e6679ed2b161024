//! The JSONPath part of the built-in filter, applied to a collected batch:
//! evaluated on the blocking thread pool once per batch, so a costly query
//! never holds an async worker. An event the query cannot evaluate within
//! its bounds is refused: it goes to the dead-letter stream with the reason
//! or, with `onFailure: fault`, stops the connector after the events before
//! it were delivered. Nothing is dropped silently.

use crate::connector::{json_path, DeadLetter, JsonPathFilter, OnFailure, Verdict};
use crate::store::RecordedEvent;

use super::batch::Collected;
use super::context::RunContext;
use super::dead_letters::{write_dead_letter, DeadLetterWrite};
use super::fault::Fault;

/// What became of a batch after the JSONPath filter.
pub(super) enum Screened {
    /// `batch` now holds only the events that pass.
    Continue,
    /// Deliver what `batch` holds, then stop the connector with this fault:
    /// the batch was cut before the refused event.
    FaultAfter(Fault),
    Cancelled,
}

/// Keeps the events of `batch` that pass `filter`; refused events are
/// dead-lettered or end the batch (see [`Screened`]).
pub(super) async fn screen(
    batch: &mut Collected,
    filter: Option<&JsonPathFilter>,
    ctx: &RunContext,
) -> Screened {
    let (repository, connector, status, cancel) =
        (&ctx.repository, &ctx.connector, &*ctx.status, &ctx.cancel);
    let Some(filter) = filter else {
        return Screened::Continue;
    };
    if batch.events.is_empty() {
        return Screened::Continue;
    }
    let events = std::mem::take(&mut batch.events);
    let verdicts = match evaluate(filter.clone(), events).await {
        Ok(verdicts) => verdicts,
        Err(message) => {
            // Nothing of the batch was handled.
            batch.end = None;
            batch.considered = 0;
            return Screened::FaultAfter(Fault::FilterEvaluation(message));
        }
    };
    let mut kept = Vec::new();
    let mut last_before = None;
    for (considered_before, (event, verdict)) in (0u64..).zip(verdicts) {
        let event_position = event.position;
        match verdict {
            Verdict::Passes => kept.push(event),
            Verdict::Fails => status.add_filtered_out(1),
            Verdict::Refused(reason) => {
                status.add_failed(1);
                let message = format!(
                    "{} refused event {} ({}@{}, position {}): {reason}",
                    json_path::FIELD,
                    event.id,
                    event.stream,
                    event.revision,
                    event.position
                );
                if connector.definition.on_failure == OnFailure::Fault {
                    // Everything read before the refused event is handled
                    // once `kept` is delivered; it is where a restart resumes.
                    batch.end = last_before;
                    batch.considered = considered_before;
                    batch.events = kept;
                    return Screened::FaultAfter(Fault::EventRefused(message));
                }
                status.record_error(message);
                let letter = DeadLetter {
                    event: &event,
                    stage: json_path::FIELD,
                    reason: &reason,
                    status: None,
                    response: None,
                };
                match write_dead_letter(repository, connector, letter, status, cancel).await {
                    DeadLetterWrite::Written => status.add_dead_lettered(1),
                    DeadLetterWrite::Cancelled => return Screened::Cancelled,
                    DeadLetterWrite::Failed(message) => {
                        // As for a refused event under `onFailure: fault`.
                        batch.end = last_before;
                        batch.considered = considered_before;
                        batch.events = kept;
                        return Screened::FaultAfter(Fault::DeadLetter(message));
                    }
                }
            }
        }
        last_before = Some(event_position);
    }
    batch.events = kept;
    Screened::Continue
}

/// Runs the query over every event on the blocking pool.
async fn evaluate(
    filter: JsonPathFilter,
    events: Vec<RecordedEvent>,
) -> Result<Vec<(RecordedEvent, Verdict)>, String> {
    tokio::task::spawn_blocking(move || {
        events
            .into_iter()
            .map(|event| {
                let verdict = filter.evaluate_event(&event);
                (event, verdict)
            })
            .collect()
    })
    .await
    .map_err(|e| format!("{} evaluation failed: {e}", json_path::FIELD))
}
