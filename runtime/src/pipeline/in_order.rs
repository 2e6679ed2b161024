//! The delivering half of a pipeline: takes the batches the reading half
//! prepared ([`Prepared`]), splits each over the delivery lanes ([`split`]),
//! and acknowledges them strictly in log order: a batch counts as handled
//! once every lane answered for its share and every batch before it was
//! handled. The checkpoint only ever names the end of such a batch, so
//! everything below it was delivered or dead-lettered, whatever the
//! ordering mode.
//!
//! A bounded window of batches is in the lanes at once ([`WINDOW_PER_LANE`]
//! per lane), so a slow key holds back at most that much. A stop abandons
//! what is in flight (it is delivered again after a restart) and saves the
//! checkpoint of what was handled; a fault does the same, and with one lane
//! also counts the part of the failed batch that was handled. A lost
//! tenure ends delivery before it makes more progress.

use std::collections::VecDeque;

use futures::future::join_all;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use crate::connector::OrderKey;
use crate::sinks::Sink;
use crate::store::Position;

use super::checkpoints::{Checkpointer, Fenced};
use super::context::RunContext;
use super::fault::{Ended, Fault};
use super::lanes::{split, Answer, Lane, Share, Stop};
use super::read_ahead::Prepared;
use super::status::{PipelineStatus, RunState};

/// Batches each lane may be given before the oldest one is handled.
const WINDOW_PER_LANE: usize = 2;

/// The batches given to the lanes and not handled yet, oldest first.
#[derive(Default)]
struct Window {
    batches: VecDeque<InFlight>,
    next_batch: u64,
}

impl Window {
    fn len(&self) -> usize {
        self.batches.len()
    }

    fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Gives each lane its share of `prepared`.
    fn dispatch(
        &mut self,
        prepared: Prepared,
        key: Option<&OrderKey>,
        lanes: &[mpsc::UnboundedSender<Share>],
    ) {
        let batch = self.next_batch;
        self.next_batch += 1;
        let shares = split(prepared.outgoing, key, lanes.len());
        let waiting_for = shares.len();
        for (lane, events) in shares {
            // A lane that stopped has answered why; that ends delivery.
            let _ = lanes[lane].send(Share { batch, events });
        }
        self.batches.push_back(InFlight {
            batch,
            waiting_for,
            end: prepared.end,
            considered: prepared.considered,
            then_stop: prepared.then_stop,
        });
    }

    /// Takes a lane's answer; how delivery ends when the lane stopped.
    fn answer(
        &mut self,
        answer: Answer,
        lanes: usize,
        checkpointer: &mut Checkpointer,
    ) -> Option<Result<(), Ended>> {
        match answer.stopped {
            None => {
                let front = self.batches.front()?.batch;
                let index = usize::try_from(answer.batch.checked_sub(front)?).ok()?;
                let entry = self.batches.get_mut(index)?;
                entry.waiting_for = entry.waiting_for.saturating_sub(1);
                None
            }
            Some(Stop::Cancelled) => Some(Ok(())),
            Some(Stop::LeaseLost) => Some(Err(Fenced::LeaseLost.into())),
            Some(Stop::Fault {
                handled_up_to,
                fault,
            }) => {
                // With one lane, every batch before this one was handled
                // (acknowledged before the final save), and this one up to
                // `handled_up_to`.
                if let (1, Some(position)) = (lanes, handled_up_to) {
                    checkpointer.advance(position, 0);
                }
                Some(Err(fault.into()))
            }
        }
    }

    /// Checkpoints, in order, every batch that was handled; the fault to
    /// stop with when such a batch ends the connector.
    fn acknowledge(
        &mut self,
        checkpointer: &mut Checkpointer,
        status: &PipelineStatus,
    ) -> Option<Fault> {
        while self.batches.front().is_some_and(|f| f.waiting_for == 0) {
            let handled = self.batches.pop_front()?;
            if let Some(end) = handled.end {
                checkpointer.advance(end, handled.considered);
                status.set_position(end);
            }
            if let Some(fault) = handled.then_stop {
                return Some(fault);
            }
        }
        None
    }
}

/// A batch given to the lanes, not handled yet.
struct InFlight {
    batch: u64,
    /// Lanes that have not answered for it.
    waiting_for: usize,
    end: Option<Position>,
    considered: u64,
    then_stop: Option<Fault>,
}

/// Delivers what `queue` brings through one lane per sink (events of one
/// `key` in one lane) until the pipeline stops, faults or is fenced;
/// checkpoints as batches are handled, and once more at the end.
pub(super) async fn deliver_in_order(
    ctx: &RunContext,
    sinks: Vec<Box<dyn Sink>>,
    key: Option<OrderKey>,
    checkpointer: &mut Checkpointer,
    mut queue: mpsc::Receiver<Prepared>,
) -> Result<(), Ended> {
    let (status, tenure) = (&ctx.status, &ctx.tenure);
    let lane_count = sinks.len().max(1);
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let (lanes, to_lanes): (Vec<Lane>, Vec<_>) = sinks.into_iter().map(Lane::new).unzip();
    let lanes = join_all(
        lanes
            .into_iter()
            .map(|lane| lane.run(ctx, answers_tx.clone())),
    );
    drop(answers_tx);
    tokio::pin!(lanes);

    let window = WINDOW_PER_LANE * lane_count;
    let mut in_flight = Window::default();
    // No batch is taken after one that ends the connector.
    let mut last_taken = false;
    let mut lanes_done = false;
    let stopped: Result<(), Ended> = loop {
        let deadline = checkpointer.deadline();
        tokio::select! {
            // A stop and a lost lease are seen before delivery makes any
            // more progress (a process resumed after a freeze sends nothing
            // more).
            biased;
            // What is in flight is abandoned (it is delivered again later);
            // what the lanes already answered for counts.
            _ = ctx.cancel.cancelled() => {
                while let Ok(answer) = answers.try_recv() {
                    if in_flight.answer(answer, lane_count, checkpointer).is_some() {
                        break;
                    }
                }
                in_flight.acknowledge(checkpointer, status);
                break Ok(());
            }
            // Abandoned too when the member's lease runs out: the member
            // that takes over delivers it.
            _ = tenure.lost(), if !in_flight.is_empty() => break Err(Fenced::LeaseLost.into()),
            answer = answers.recv() => {
                let Some(answer) = answer else {
                    break Ok(());
                };
                if let Some(stop) = in_flight.answer(answer, lane_count, checkpointer) {
                    break stop;
                }
            }
            prepared = queue.recv(), if !last_taken && in_flight.len() < window => {
                let Some(prepared) = prepared else {
                    // The reading half ended: the pipeline is stopping.
                    break Ok(());
                };
                if !prepared.outgoing.is_empty() && !tenure.holds() {
                    break Err(Fenced::LeaseLost.into());
                }
                last_taken = prepared.then_stop.is_some();
                in_flight.dispatch(prepared, key.as_ref(), &to_lanes);
            }
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {}
            // Lanes end after their last answer, which is read next.
            _ = &mut lanes, if !lanes_done => lanes_done = true,
        }
        if let Some(fault) = in_flight.acknowledge(checkpointer, status) {
            checkpointer.save(status).await?;
            return Err(fault.into());
        }
        checkpointer.save_if_due(status).await?;
    };
    match stopped {
        Ok(()) => {
            status.set_state(RunState::Stopping);
            checkpointer.save(status).await?;
            Ok(())
        }
        Err(Ended::Faulted(fault)) => {
            // The batches handled before the fault count.
            in_flight.acknowledge(checkpointer, status);
            checkpointer.save(status).await?;
            Err(fault.into())
        }
        Err(fenced) => Err(fenced),
    }
}
