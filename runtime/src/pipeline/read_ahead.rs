//! The reading half of a pipeline, on its own task so that it works while
//! the sink is busy: it subscribes to `$all`, collects batches, passes them
//! through the JSONPath filter ([`screen`]) and the transform chain
//! ([`transform`]), and queues what the sink gets ([`Prepared`]) for the
//! delivering half ([`super::deliver_in_order`]), a bounded number ahead.
//!
//! Store errors resubscribe after the last batch queued, with back-off.
//! A batch whose filtering or transforming ends the connector is queued
//! with the reason and is the last one: the delivering half stops once
//! what came before it was delivered.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::connector::CompiledFilter;
use crate::sinks::BatchLimits;
use crate::store::{Position, RecordedEvent, SubscribeFrom, SubscriptionFilter};

use super::backoff::pipeline_backoff;
use super::batch::collect;
use super::context::RunContext;
use super::fault::Fault;
use super::json_filter::{screen, Screened};
use super::transform_step::{transform, Transformed};
use super::transforms::Chain;

/// A batch on its way to the sink.
#[derive(Debug)]
pub(super) struct Prepared {
    /// What the sink gets, in log order (transformed).
    pub outgoing: Vec<RecordedEvent>,
    /// Once `outgoing` is delivered, everything up to here was handled.
    pub end: Option<Position>,
    /// Events read for it (including those filtered out).
    pub considered: u64,
    /// The connector stops after `outgoing` is delivered and `end`
    /// checkpointed.
    pub then_stop: Option<Fault>,
}

/// Where and how the reading half reads.
pub(super) struct ReadPlan {
    pub from: SubscribeFrom,
    pub store_filter: SubscriptionFilter,
    pub filter: CompiledFilter,
    /// The shape of the batches it collects.
    pub limits: BatchLimits,
}

/// Reads, filters and transforms until the delivering half goes away, the
/// pipeline is cancelled or a batch ends the connector.
pub(super) async fn read_ahead(
    ctx: Arc<RunContext>,
    mut chain: Chain,
    plan: ReadPlan,
    queue: mpsc::Sender<Prepared>,
) {
    let ReadPlan {
        mut from,
        store_filter,
        filter,
        limits,
    } = plan;
    let (status, cancel) = (&ctx.status, &ctx.cancel);
    let store = ctx.repository.store();
    let mut backoff = pipeline_backoff();
    // Whether this half set the status's `retrying` (it clears it once
    // reading works again).
    let mut retrying = false;
    'subscribe: loop {
        let mut subscription = tokio::select! {
            _ = cancel.cancelled() => return,
            result = store.subscribe_all(from, store_filter.clone()) => match result {
                Ok(s) => s,
                Err(e) => {
                    retrying = true;
                    status.set_retrying(true);
                    status.record_error(format!("could not subscribe: {e}"));
                    if backoff.sleep_or_cancel(cancel).await { continue 'subscribe }
                    return;
                }
            },
        };
        loop {
            let collected = tokio::select! {
                _ = cancel.cancelled() => return,
                result = collect(&mut subscription, &limits, None) => result,
            };
            let mut batch = match collected {
                Ok(batch) => batch,
                Err(e) => {
                    retrying = true;
                    status.set_retrying(true);
                    status.record_error(format!("subscription failed, resubscribing: {e}"));
                    if backoff.sleep_or_cancel(cancel).await {
                        continue 'subscribe;
                    }
                    return;
                }
            };
            backoff.reset();
            ctx.metrics.read.inc_by(batch.considered);
            if std::mem::take(&mut retrying) {
                status.set_retrying(false);
            }
            let mut then_stop = match screen(&mut batch, filter.json_path.as_ref(), &ctx).await {
                Screened::Continue => None,
                Screened::FaultAfter(fault) => Some(fault),
                Screened::Cancelled => return,
            };
            let mut prepared = Prepared {
                outgoing: Vec::new(),
                end: batch.end,
                considered: batch.considered,
                then_stop: None,
            };
            if !batch.events.is_empty() {
                match transform(&ctx, &mut chain, batch.events).await {
                    Transformed::All(outgoing) => prepared.outgoing = outgoing,
                    Transformed::Cut {
                        outgoing,
                        handled_up_to,
                        fault,
                    } => {
                        prepared.outgoing = outgoing;
                        prepared.end = handled_up_to;
                        prepared.considered = 0;
                        then_stop = Some(fault);
                    }
                    Transformed::Cancelled => return,
                }
            }
            prepared.then_stop = then_stop;
            if prepared.outgoing.is_empty()
                && prepared.end.is_none()
                && prepared.then_stop.is_none()
            {
                continue;
            }
            let last = prepared.then_stop.is_some();
            if let Some(end) = prepared.end {
                from = SubscribeFrom::After(end);
            }
            if queue.send(prepared).await.is_err() || last {
                return;
            }
        }
    }
}
