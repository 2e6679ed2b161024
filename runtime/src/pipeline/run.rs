use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::connector::{
    ConnectorRepository, ConnectorState, DeadLetter, OnFailure, Progress, StartFrom,
};
use crate::sinks::wasm::WasmSink;
use crate::sinks::{DeliveryOutcome, RetryNotice, Sink, SinkConfig, SinkContext};
use crate::store::{Position, RecordedEvent, SubscribeFrom};
use crate::wasm::GuestIdentity;

use super::backoff::{sleep_or_cancel, MIN_BACKOFF};
use super::batch::collect;
use super::checkpoints::{Checkpointer, Fenced};
use super::dead_letters::{write_dead_letter, DeadLetterWrite};
use super::json_filter::{screen, Screened};
use super::module_stages::{chain_modules, StageModule};
use super::stages::StageFactory;
use super::status::{PipelineStatus, RunState};
use super::tenure::Tenure;
use super::transforms::{Chain, ChainError, InputResult, NamedStage};

/// How a pipeline ended without being asked to.
enum Ended {
    Faulted(String),
    Fenced(Fenced),
}

impl From<String> for Ended {
    fn from(message: String) -> Self {
        Ended::Faulted(message)
    }
}

impl From<Fenced> for Ended {
    fn from(fenced: Fenced) -> Self {
        Ended::Fenced(fenced)
    }
}

/// Runs until cancelled, faulted or fenced.
pub(super) async fn run(
    repository: ConnectorRepository,
    stages: Arc<dyn StageFactory>,
    connector: ConnectorState,
    tenure: Tenure,
    status: Arc<PipelineStatus>,
    cancel: CancellationToken,
) {
    let id = connector.id.clone();
    status.hide(connector.definition.secret_values());
    let ended = run_until_stopped(
        &repository,
        stages.as_ref(),
        &connector,
        &tenure,
        &status,
        &cancel,
    )
    .await;
    match ended {
        Ok(()) => tracing::info!(connector = %id, "pipeline stopped"),
        Err(Ended::Fenced(why)) => {
            tracing::warn!(connector = %id, reason = %why, "pipeline stopped: it may no longer deliver");
            status.record_error(why.to_string());
            status.set_state(RunState::Stopping);
        }
        Err(Ended::Faulted(message)) => {
            tracing::error!(connector = %id, error = %status.redact(&message), "connector faulted");
            status.fault(message);
        }
    }
}

/// Where delivery resumes: after the checkpoint of the current round, else
/// where the round starts; with the connector's totals so far and where the
/// checkpoint stream is.
async fn resume_point(
    repository: &ConnectorRepository,
    connector: &ConnectorState,
    status: &PipelineStatus,
    cancel: &CancellationToken,
) -> Option<(SubscribeFrom, Progress)> {
    let mut backoff = MIN_BACKOFF;
    loop {
        match repository.progress(&connector.id, connector.round).await {
            Ok(progress) => {
                status.set_totals_before(progress.totals);
                let Some(checkpoint) = progress.checkpoint else {
                    let from = match connector.round_start {
                        StartFrom::Start => SubscribeFrom::Start,
                        StartFrom::End => SubscribeFrom::End,
                        StartFrom::After(p) => {
                            status.set_position(p);
                            SubscribeFrom::After(p)
                        }
                    };
                    return Some((from, progress));
                };
                status.set_checkpoint(checkpoint.position);
                status.set_position(checkpoint.position);
                return Some((SubscribeFrom::After(checkpoint.position), progress));
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
    stages: &dyn StageFactory,
    connector: &ConnectorState,
    tenure: &Tenure,
    status: &Arc<PipelineStatus>,
    cancel: &CancellationToken,
) -> Result<(), Ended> {
    let definition = &connector.definition;
    let filter = definition
        .filter
        .compile()
        .map_err(|e| format!("invalid filter: {e}"))?;
    let mut chain = build_chain(stages, connector).await?;
    for module in chain_modules(&chain) {
        status.add_stage_module(module);
    }
    let mut sink = build_sink(stages, connector, tenure, status).await?;
    let limits = sink.batch_limits();
    let Some((mut from, progress)) = resume_point(repository, connector, status, cancel).await
    else {
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
        progress.checkpoint,
        tenure.clone(),
        progress.revision,
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
                    status.set_retrying(true);
                    status.record_error(format!("could not subscribe: {e}"));
                    if sleep_or_cancel(&mut backoff, cancel).await { continue 'subscribe }
                    break 'subscribe;
                }
            },
        };
        loop {
            let collected = tokio::select! {
                _ = cancel.cancelled() => break 'subscribe,
                result = collect(&mut subscription, &limits, checkpointer.deadline()) => result,
            };
            let mut batch = match collected {
                Ok(batch) => batch,
                Err(e) => {
                    status.set_retrying(true);
                    status.record_error(format!("subscription failed, resubscribing: {e}"));
                    if sleep_or_cancel(&mut backoff, cancel).await {
                        continue 'subscribe;
                    }
                    break 'subscribe;
                }
            };
            backoff = MIN_BACKOFF;
            if batch.events.is_empty() {
                status.set_retrying(false);
            }
            let screened = screen(
                &mut batch,
                filter.json_path.as_ref(),
                repository,
                connector,
                status,
                cancel,
            )
            .await;
            let refused = match screened {
                Screened::Continue => None,
                Screened::FaultAfter(message) => Some(message),
                Screened::Cancelled => break 'subscribe,
            };
            if !batch.events.is_empty() {
                if !tenure.holds() {
                    return Err(Fenced::LeaseLost.into());
                }
                let delivered = tokio::select! {
                    // A stop and a lost lease are seen before the delivery
                    // makes any more progress (a process resumed after a
                    // freeze sends nothing more).
                    biased;
                    // Abandon the in-flight batch; it is delivered again later.
                    _ = cancel.cancelled() => break 'subscribe,
                    // Abandon it too when the member's lease runs out: the
                    // member that takes over delivers it.
                    _ = tenure.lost() => return Err(Fenced::LeaseLost.into()),
                    result = transform_and_deliver(repository, connector, &mut chain, sink.as_mut(), &batch.events, status, cancel) => result,
                };
                match delivered {
                    Delivery::Done => status.set_retrying(false),
                    Delivery::Cancelled => break 'subscribe,
                    Delivery::Fault {
                        handled_up_to,
                        message,
                    } => {
                        if let Some(position) = handled_up_to {
                            checkpointer.advance(position, 0);
                        }
                        checkpointer.save(status).await?;
                        return Err(message.into());
                    }
                }
            }
            if let Some(end) = batch.end {
                checkpointer.advance(end, batch.considered);
                status.set_position(end);
                from = SubscribeFrom::After(end);
            }
            if let Some(message) = refused {
                checkpointer.save(status).await?;
                return Err(message.into());
            }
            checkpointer.save_if_due(status).await?;
        }
    }
    status.set_state(RunState::Stopping);
    checkpointer.save(status).await?;
    Ok(())
}

async fn build_chain(
    stages: &dyn StageFactory,
    connector: &ConnectorState,
) -> Result<Chain, String> {
    let mut named = Vec::new();
    for (i, config) in connector.definition.transforms.iter().enumerate() {
        let name = format!("transforms[{i}] ({})", config.module);
        let identity = GuestIdentity {
            connector: connector.id.to_string(),
            stage: name.clone(),
            secrets: config.secrets.values().cloned().collect(),
        };
        let mut stage = stages
            .transform(identity, config)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        // `init` now, so a config the component refuses faults the
        // connector at its start rather than at its first event.
        stage.init().await.map_err(|e| format!("{name}: {e}"))?;
        named.push(NamedStage { name, stage });
    }
    Ok(Chain::new(named))
}

async fn build_sink(
    stages: &dyn StageFactory,
    connector: &ConnectorState,
    tenure: &Tenure,
    status: &Arc<PipelineStatus>,
) -> Result<Box<dyn Sink>, String> {
    let retry_status = Arc::clone(status);
    let stop_at_first_rejection = connector.definition.on_failure == OnFailure::Fault;
    let id = connector.id.clone();
    let ctx = SinkContext {
        connector_id: connector.id.to_string(),
        on_retry: Arc::new(move |notice: RetryNotice| {
            tracing::warn!(connector = %id, attempt = notice.attempt, wait_ms = notice.wait.as_millis() as u64, error = %retry_status.redact(&notice.error), "delivery failed, retrying");
            retry_status.set_retrying(true);
            retry_status.record_error(format!(
                "{} (retry {} in {} ms)",
                notice.error,
                notice.attempt,
                notice.wait.as_millis()
            ));
        }),
        stop_at_first_rejection,
        destinations: stages.destinations(),
        owner: tenure.owner().cloned(),
    };
    if let SinkConfig::Wasm(config) = &connector.definition.sink {
        let identity = GuestIdentity {
            connector: connector.id.to_string(),
            stage: format!("sink ({})", config.module),
            secrets: config.secrets.values().cloned().collect(),
        };
        let mut stage = stages
            .sink(identity, config)
            .await
            .map_err(|e| format!("sink ({}): {e}", config.module))?;
        stage
            .init()
            .await
            .map_err(|e| format!("sink ({}): {e}", config.module))?;
        if let Some(origin) = stage.origin() {
            status.add_stage_module(StageModule::new("sink", origin));
        }
        return Ok(Box::new(WasmSink::new(stage, config, ctx)));
    }
    connector
        .definition
        .sink
        .build(ctx)
        .map_err(|e| format!("invalid sink: {e}"))
}

/// Runs the transform chain over a batch (retrying it when a stage asks),
/// settles the events a stage failed, and delivers what is left.
async fn transform_and_deliver(
    repository: &ConnectorRepository,
    connector: &ConnectorState,
    chain: &mut Chain,
    sink: &mut dyn Sink,
    events: &[RecordedEvent],
    status: &PipelineStatus,
    cancel: &CancellationToken,
) -> Delivery {
    if chain.is_empty() {
        return deliver(repository, connector, sink, events, status, cancel).await;
    }
    let mut backoff = MIN_BACKOFF;
    let results = loop {
        match chain.run(events).await {
            Ok(results) => break results,
            Err(ChainError::Retry(message)) => {
                status.set_retrying(true);
                status.record_error(format!("{message} (retrying the batch)"));
                if !sleep_or_cancel(&mut backoff, cancel).await {
                    return Delivery::Cancelled;
                }
            }
            Err(ChainError::Fault(message)) => {
                return Delivery::Fault {
                    handled_up_to: None,
                    message,
                }
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
                if connector.definition.on_failure == OnFailure::Fault {
                    // Deliver what came before the failed event, then stop.
                    let delivered =
                        deliver(repository, connector, sink, &outgoing, status, cancel).await;
                    return match delivered {
                        Delivery::Done => Delivery::Fault {
                            handled_up_to,
                            message,
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
                let written =
                    write_dead_letter(repository, connector, letter, status, cancel).await;
                if let Some(stop) = after_dead_letter(written, status, handled_up_to) {
                    return stop;
                }
            }
        }
        handled_up_to = Some(event.position);
    }
    if outgoing.is_empty() {
        return Delivery::Done;
    }
    deliver(repository, connector, sink, &outgoing, status, cancel).await
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
    // Transformed events may share a position (a fan-out): a position is
    // handled once every event at it is.
    let mut handled_up_to = None;
    let mut current = None;
    for (event, outcome) in events.iter().zip(outcomes) {
        if current != Some(event.position) {
            handled_up_to = current;
            current = Some(event.position);
        }
        match outcome {
            DeliveryOutcome::Delivered => status.add_delivered(1),
            DeliveryOutcome::Rejected(rejection) => {
                status.add_failed(1);
                let message = format!(
                    "the sink refused event {} ({}@{}, position {}): {}",
                    event.id, event.stream, event.revision, event.position, rejection.reason
                );
                if rejection.stops_connector {
                    return Delivery::Fault {
                        handled_up_to,
                        message,
                    };
                }
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
                        let written =
                            write_dead_letter(repository, connector, letter, status, cancel).await;
                        if let Some(stop) = after_dead_letter(written, status, handled_up_to) {
                            return stop;
                        }
                    }
                }
            }
        }
    }
    Delivery::Done
}

/// What follows a dead letter: going on (`None`, it is counted), or
/// stopping because the pipeline was cancelled or the letter cannot be
/// written (every event before `handled_up_to`, inclusive, was handled).
fn after_dead_letter(
    written: DeadLetterWrite,
    status: &PipelineStatus,
    handled_up_to: Option<Position>,
) -> Option<Delivery> {
    match written {
        DeadLetterWrite::Written => {
            status.add_dead_lettered(1);
            None
        }
        DeadLetterWrite::Cancelled => Some(Delivery::Cancelled),
        DeadLetterWrite::Failed(message) => Some(Delivery::Fault {
            handled_up_to,
            message,
        }),
    }
}
