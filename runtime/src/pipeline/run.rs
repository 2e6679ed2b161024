//! The run loop of one pipeline: build the chain and the sink, find where
//! to resume, subscribe to `$all`, collect batches, pass them through the
//! JSONPath filter, the transform step and the delivery step, and
//! checkpoint what was handled. Store errors resubscribe from the last
//! handled position with back-off; a stop writes the checkpoint of what was
//! delivered; a fault or a lost tenure ends the loop ([`Ended`]).

use std::sync::Arc;

use crate::connector::{Progress, StartFrom};
use crate::store::SubscribeFrom;

use super::backoff::pipeline_backoff;
use super::batch::collect;
use super::build::{build_chain, build_sink, SinkSource};
use super::checkpoints::{Checkpointer, Fenced};
use super::context::RunContext;
use super::delivery::Delivery;
use super::fault::{Ended, Fault};
use super::json_filter::{screen, Screened};
use super::module_stages::chain_modules;
use super::stages::StageFactory;
use super::status::RunState;
use super::transform_step::transform_and_deliver;

/// Runs until cancelled, faulted or fenced, and shows how it ended in the
/// status.
pub(super) async fn run(ctx: RunContext, stages: Arc<dyn StageFactory>, sink: SinkSource) {
    let id = ctx.connector.id.clone();
    let status = &ctx.status;
    status.hide(ctx.connector.definition.secret_values());
    match run_until_stopped(&ctx, stages.as_ref(), sink).await {
        Ok(()) => tracing::info!(connector = %id, "pipeline stopped"),
        Err(Ended::Fenced(why)) => {
            tracing::warn!(connector = %id, reason = %why, "pipeline stopped: it may no longer deliver");
            status.record_error(why.to_string());
            status.set_state(RunState::Stopping);
        }
        Err(Ended::Faulted(fault)) => {
            let message = fault.to_string();
            tracing::error!(connector = %id, error = %status.redact(&message), "connector faulted");
            status.fault(message);
        }
    }
}

/// Where delivery resumes: after the checkpoint of the current round, else
/// where the round starts; with the connector's totals so far and where the
/// checkpoint stream is. `None` when cancelled first.
async fn resume_point(ctx: &RunContext) -> Option<(SubscribeFrom, Progress)> {
    let (connector, status) = (&ctx.connector, &ctx.status);
    let mut backoff = pipeline_backoff();
    loop {
        match ctx
            .repository
            .progress(&connector.id, connector.round)
            .await
        {
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
                if !backoff.sleep_or_cancel(&ctx.cancel).await {
                    return None;
                }
            }
        }
    }
}

async fn run_until_stopped(
    ctx: &RunContext,
    stages: &dyn StageFactory,
    sink_source: SinkSource,
) -> Result<(), Ended> {
    let (definition, status, cancel, tenure) = (
        &ctx.connector.definition,
        &ctx.status,
        &ctx.cancel,
        &ctx.tenure,
    );
    let filter = definition.filter.compile().map_err(Fault::InvalidFilter)?;
    let mut chain = build_chain(ctx, stages).await?;
    for module in chain_modules(&chain) {
        status.add_stage_module(module);
    }
    let mut sink = build_sink(ctx, stages, sink_source).await?;
    let limits = sink.batch_limits();
    let Some((mut from, progress)) = resume_point(ctx).await else {
        return Ok(());
    };
    let mut store_filter = filter.store.clone();
    store_filter.checkpoint_interval =
        u32::try_from(definition.checkpoint.every_events.min(1000)).unwrap_or(1000);
    let mut checkpointer = Checkpointer::new(
        ctx.repository.clone(),
        ctx.connector.id.clone(),
        ctx.connector.round,
        definition.checkpoint,
        progress.checkpoint,
        tenure.clone(),
        progress.revision,
    );
    let store = ctx.repository.store();
    let mut backoff = pipeline_backoff();
    status.set_state(RunState::Running);

    'subscribe: loop {
        let mut subscription = tokio::select! {
            _ = cancel.cancelled() => break 'subscribe,
            result = store.subscribe_all(from, store_filter.clone()) => match result {
                Ok(s) => s,
                Err(e) => {
                    status.set_retrying(true);
                    status.record_error(format!("could not subscribe: {e}"));
                    if backoff.sleep_or_cancel(cancel).await { continue 'subscribe }
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
                    if backoff.sleep_or_cancel(cancel).await {
                        continue 'subscribe;
                    }
                    break 'subscribe;
                }
            };
            backoff.reset();
            if batch.events.is_empty() {
                status.set_retrying(false);
            }
            let refused = match screen(&mut batch, filter.json_path.as_ref(), ctx).await {
                Screened::Continue => None,
                Screened::FaultAfter(fault) => Some(fault),
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
                    result = transform_and_deliver(ctx, &mut chain, sink.as_mut(), &batch.events) => result,
                };
                match delivered {
                    Delivery::Done => status.set_retrying(false),
                    Delivery::Cancelled => break 'subscribe,
                    Delivery::Fault {
                        handled_up_to,
                        fault,
                    } => {
                        if let Some(position) = handled_up_to {
                            checkpointer.advance(position, 0);
                        }
                        checkpointer.save(status).await?;
                        return Err(fault.into());
                    }
                }
            }
            if let Some(end) = batch.end {
                checkpointer.advance(end, batch.considered);
                status.set_position(end);
                from = SubscribeFrom::After(end);
            }
            if let Some(fault) = refused {
                checkpointer.save(status).await?;
                return Err(fault.into());
            }
            checkpointer.save_if_due(status).await?;
        }
    }
    status.set_state(RunState::Stopping);
    checkpointer.save(status).await?;
    Ok(())
}
