//! One pipeline's run: build the chain and one sink per delivery lane,
//! find where to resume, then run its two halves at once: the reading half
//! ([`read_ahead`], on its own task: subscribe, collect, filter, transform)
//! and the delivering half ([`deliver_in_order`], on this task: lanes,
//! in-order acknowledgements, checkpoints), joined by a bounded queue. A
//! stop writes the checkpoint of what was delivered; a fault or a lost
//! tenure ends the run ([`Ended`]).

use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::Instrument;

use crate::connector::{Ordering, Progress, StartFrom};
use crate::sinks::BatchLimits;
use crate::store::SubscribeFrom;

use super::backoff::pipeline_backoff;
use super::build::{build_chain, build_sinks, SinkSource};
use super::checkpoints::Checkpointer;
use super::context::RunContext;
use super::fault::{Ended, Fault};
use super::in_order::deliver_in_order;
use super::module_stages::chain_modules;
use super::read_ahead::{read_ahead, ReadPlan};
use super::stages::StageFactory;
use super::status::RunState;

/// Runs until cancelled, faulted or fenced, and shows how it ended in the
/// status.
pub(super) async fn run(ctx: Arc<RunContext>, stages: Arc<dyn StageFactory>, sink: SinkSource) {
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
    ctx: &Arc<RunContext>,
    stages: &dyn StageFactory,
    sink_source: SinkSource,
) -> Result<(), Ended> {
    let (definition, status) = (&ctx.connector.definition, &ctx.status);
    let filter = definition.filter.compile().map_err(Fault::InvalidFilter)?;
    let chain = build_chain(ctx, stages).await?;
    for module in chain_modules(&chain) {
        status.add_stage_module(module);
    }
    let ordering = &definition.ordering;
    let (sink_limits, sinks) =
        build_sinks(ctx, stages, &sink_source, ordering.concurrency()).await?;
    let Some((from, progress)) = resume_point(ctx).await else {
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
        ctx.tenure.clone(),
        progress.revision,
    );
    let read_limits = read_limits(&sink_limits, ordering.concurrency());
    let (queue_tx, queue) = mpsc::channel(queue_depth(&read_limits));
    let plan = ReadPlan {
        from,
        store_filter,
        filter,
        limits: read_limits,
    };
    status.set_state(RunState::Running);
    let reader = tokio::spawn(read_ahead(Arc::clone(ctx), chain, plan, queue_tx).in_current_span());
    let key = match ordering {
        Ordering::Strict => None,
        Ordering::Keyed { by, .. } => Some(by.clone()),
    };
    let delivered = deliver_in_order(ctx, sinks, key, &mut checkpointer, queue).await;
    reader.abort();
    let _ = reader.await;
    delivered
}

/// The batches the reading half collects: the sink's, or with several
/// lanes enough to give each lane a sink batch (up to a bound).
fn read_limits(sink: &BatchLimits, lanes: usize) -> BatchLimits {
    if lanes <= 1 {
        return *sink;
    }
    BatchLimits {
        max_events: sink
            .max_events
            .saturating_mul(lanes)
            .clamp(sink.max_events, MAX_READ_EVENTS),
        max_bytes: sink
            .max_bytes
            .saturating_mul(lanes)
            .clamp(sink.max_bytes, MAX_READ_BYTES),
        linger: sink.linger,
    }
}

/// How many prepared batches may wait for the delivering half: a few
/// large ones, or more small ones (about a thousand events in all).
fn queue_depth(limits: &BatchLimits) -> usize {
    (1024 / limits.max_events.max(1)).clamp(2, 64)
}

/// The most events and bytes the reading half collects at once with
/// several lanes.
const MAX_READ_EVENTS: usize = 10_000;
const MAX_READ_BYTES: usize = 64 * 1024 * 1024;
