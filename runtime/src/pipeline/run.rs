use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::connector::{
    ConnectorId, ConnectorRepository, ConnectorState, DeadLetter, OnFailure, StartFrom,
};
use crate::sinks::{DeliveryOutcome, RetryNotice, Sink, SinkContext};
use crate::store::{Position, RecordedEvent, SubscribeFrom};

use super::batch::collect;
use super::checkpoints::Checkpointer;
use super::status::{PipelineStatus, RunState};

const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Runs until cancelled or faulted.
pub(super) async fn run(
    repository: ConnectorRepository,
    connector: ConnectorState,
    status: Arc<PipelineStatus>,
    cancel: CancellationToken,
) {
    let id = connector.id.clone();
    match run_until_stopped(&repository, &connector, &status, &cancel).await {
        Ok(()) => tracing::info!(connector = %id, "pipeline stopped"),
        Err(message) => {
            tracing::error!(connector = %id, error = %message, "connector faulted");
            status.fault(message);
        }
    }
}

/// Where delivery resumes: after the checkpoint of the current round, else
/// where the round starts.
async fn resume_point(
    repository: &ConnectorRepository,
    connector: &ConnectorState,
    status: &PipelineStatus,
    cancel: &CancellationToken,
) -> Option<SubscribeFrom> {
    let mut backoff = MIN_BACKOFF;
    loop {
        match repository.checkpoint(&connector.id, connector.round).await {
            Ok(Some(checkpoint)) => {
                status.set_checkpoint(checkpoint.position);
                status.set_position(checkpoint.position);
                return Some(SubscribeFrom::After(checkpoint.position));
            }
            Ok(None) => {
                return Some(match connector.round_start {
                    StartFrom::Start => SubscribeFrom::Start,
                    StartFrom::End => SubscribeFrom::End,
                    StartFrom::After(p) => SubscribeFrom::After(p),
                })
            }
            Err(e) => {
                status.record_error(format!("could not read the checkpoint: {e}"));
                if !sleep_or_cancel(&mut backoff, cancel).await {
                    return None;
                }
            }
        }
    }
}

async fn run_until_stopped(
    repository: &ConnectorRepository,
    connector: &ConnectorState,
    status: &Arc<PipelineStatus>,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let definition = &connector.definition;
    let filter = definition
        .filter
        .compile()
        .map_err(|e| format!("invalid filter: {e}"))?;
    let mut sink = build_sink(connector, status)?;
    let limits = sink.batch_limits();
    let Some(mut from) = resume_point(repository, connector, status, cancel).await else {
        return Ok(());
    };
    let mut store_filter = filter.store.clone();
    store_filter.checkpoint_interval =
        u32::try_from(definition.checkpoint.every_events.min(1000)).unwrap_or(1000);
    let mut checkpointer = Checkpointer::new(
        repository.clone(),
        connector.id.clone(),
        connector.round,
        definition.checkpoint,
    );
    let store = repository.store();
    let mut backoff = MIN_BACKOFF;
    status.set_state(RunState::Running);

    'subscribe: loop {
        let mut subscription = tokio::select! {
            _ = cancel.cancelled() => break 'subscribe,
            result = store.subscribe_all(from, store_filter.clone()) => match result {
                Ok(s) => s,
                Err(e) => {
                    status.record_error(format!("could not subscribe: {e}"));
                    if sleep_or_cancel(&mut backoff, cancel).await { continue 'subscribe }
                    break 'subscribe;
                }
            },
        };
        loop {
            let collected = tokio::select! {
                _ = cancel.cancelled() => break 'subscribe,
                result = collect(&mut subscription, filter.json_path.as_ref(), &limits, checkpointer.deadline(), status) => result,
            };
            let batch = match collected {
                Ok(batch) => batch,
                Err(e) => {
                    status.record_error(format!("subscription failed, resubscribing: {e}"));
                    if sleep_or_cancel(&mut backoff, cancel).await {
                        continue 'subscribe;
                    }
                    break 'subscribe;
                }
            };
            backoff = MIN_BACKOFF;
            if !batch.events.is_empty() {
                let delivered = tokio::select! {
                    // Abandon the in-flight batch; it is delivered again later.
                    _ = cancel.cancelled() => break 'subscribe,
                    result = deliver(repository, connector, sink.as_mut(), &batch.events, status, cancel) => result,
                };
                match delivered {
                    Delivery::Done => {}
                    Delivery::Cancelled => break 'subscribe,
                    Delivery::Fault {
                        handled_up_to,
                        message,
                    } => {
                        if let Some(position) = handled_up_to {
                            checkpointer.advance(position, 0);
                        }
                        checkpointer.save(status).await;
                        return Err(message);
                    }
                }
            }
            if let Some(end) = batch.end {
                checkpointer.advance(end, batch.considered);
                status.set_position(end);
                from = SubscribeFrom::After(end);
            }
            checkpointer.save_if_due(status).await;
        }
    }
    status.set_state(RunState::Stopping);
    checkpointer.save(status).await;
    Ok(())
}

fn build_sink(
    connector: &ConnectorState,
    status: &Arc<PipelineStatus>,
) -> Result<Box<dyn Sink>, String> {
    let retry_status = Arc::clone(status);
    let stop_at_first_rejection = connector.definition.on_failure == OnFailure::Fault;
    let id = connector.id.clone();
    let ctx = SinkContext {
        connector_id: connector.id.to_string(),
        on_retry: Arc::new(move |notice: RetryNotice| {
            tracing::warn!(connector = %id, attempt = notice.attempt, wait_ms = notice.wait.as_millis() as u64, error = %notice.error, "delivery failed, retrying");
            retry_status.record_error(format!(
                "{} (retry {} in {} ms)",
                notice.error,
                notice.attempt,
                notice.wait.as_millis()
            ));
        }),
        stop_at_first_rejection,
    };
    connector
        .definition
        .sink
        .build(ctx)
        .map_err(|e| format!("invalid sink: {e}"))
}

enum Delivery {
    Done,
    Cancelled,
    /// The connector must stop; every event before `handled_up_to` (inclusive)
    /// was handled.
    Fault {
        handled_up_to: Option<Position>,
        message: String,
    },
}

/// Delivers one batch and settles every refused event.
async fn deliver(
    repository: &ConnectorRepository,
    connector: &ConnectorState,
    sink: &mut dyn Sink,
    events: &[RecordedEvent],
    status: &PipelineStatus,
    cancel: &CancellationToken,
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
            return Delivery::Fault {
                handled_up_to: None,
                message: format!(
                    "the sink answered {} outcomes for {} events",
                    outcomes.len(),
                    events.len()
                ),
            }
        }
        Err(e) => {
            return Delivery::Fault {
                handled_up_to: None,
                message: format!("sink failed: {e}"),
            }
        }
    };
    let mut handled_up_to = None;
    for (event, outcome) in events.iter().zip(outcomes) {
        match outcome {
            DeliveryOutcome::Delivered => status.add_delivered(1),
            DeliveryOutcome::Rejected(rejection) => {
                status.add_failed(1);
                let message = format!(
                    "the sink refused event {} ({}@{}, position {}): {}",
                    event.id, event.stream, event.revision, event.position, rejection.reason
                );
                match connector.definition.on_failure {
                    OnFailure::Fault => {
                        return Delivery::Fault {
                            handled_up_to,
                            message,
                        }
                    }
                    OnFailure::DeadLetter => {
                        status.record_error(message);
                        let letter = DeadLetter {
                            event,
                            stage: "sink",
                            reason: &rejection.reason,
                            status: rejection.status,
                            response: rejection.response.as_deref(),
                        };
                        if !write_dead_letter(repository, &connector.id, letter, status, cancel)
                            .await
                        {
                            return Delivery::Cancelled;
                        }
                        status.add_dead_lettered(1);
                    }
                }
            }
        }
        handled_up_to = Some(event.position);
    }
    Delivery::Done
}

/// Writes a dead letter, retrying store errors until it is written or the
/// pipeline is cancelled (then the event is delivered again after restart).
async fn write_dead_letter(
    repository: &ConnectorRepository,
    id: &ConnectorId,
    letter: DeadLetter<'_>,
    status: &PipelineStatus,
    cancel: &CancellationToken,
) -> bool {
    let mut backoff = MIN_BACKOFF;
    loop {
        match repository.dead_letter(id, letter.clone()).await {
            Ok(()) => return true,
            Err(e) => {
                status.record_error(format!("could not write a dead letter: {e}"));
                if !sleep_or_cancel(&mut backoff, cancel).await {
                    return false;
                }
            }
        }
    }
}

/// Sleeps for `backoff` (then doubles it, capped); false when cancelled.
async fn sleep_or_cancel(backoff: &mut Duration, cancel: &CancellationToken) -> bool {
    let wait = *backoff;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(wait) => true,
    }
}
