//! Delivery lanes: each has its own sink and delivers the events it is
//! given one request after the other, so events that share a lane keep
//! their order. A connector with strict ordering has one lane; one ordered
//! by key has `concurrency` lanes, and every event of a key goes to the
//! same one ([`split`]).
//!
//! A lane cuts what it is given into the sink's batches ([`chunks`]),
//! never between events at one position (a fan-out), and answers for each
//! share once it was delivered or dead-lettered, or why it stopped.

use tokio::sync::mpsc;

use crate::connector::OrderKey;
use crate::sinks::{BatchLimits, Sink};
use crate::store::{Position, RecordedEvent};

use super::context::RunContext;
use super::delivery::{deliver, Delivery};
use super::fault::Fault;

/// Part of a batch for one lane.
pub(super) struct Share {
    /// Which batch it belongs to.
    pub batch: u64,
    pub events: Vec<RecordedEvent>,
}

/// A lane's answer for one share.
pub(super) struct Answer {
    pub batch: u64,
    /// `None` when every event of the share was handled.
    pub stopped: Option<Stop>,
}

/// Why a lane stopped in the middle of a share.
#[derive(Debug)]
pub(super) enum Stop {
    /// The pipeline was asked to stop.
    Cancelled,
    /// The member's tenure ended: nothing more may be sent.
    LeaseLost,
    /// The connector must stop; the share's events up to `handled_up_to`
    /// (inclusive) were handled.
    Fault {
        handled_up_to: Option<Position>,
        fault: Fault,
    },
}

/// One lane: its sink and the shares waiting for it.
pub(super) struct Lane {
    sink: Box<dyn Sink>,
    limits: BatchLimits,
    shares: mpsc::UnboundedReceiver<Share>,
}

impl Lane {
    /// A lane delivering through `sink`, and where to send it shares.
    pub fn new(sink: Box<dyn Sink>) -> (Self, mpsc::UnboundedSender<Share>) {
        let (tx, shares) = mpsc::unbounded_channel();
        let limits = sink.batch_limits();
        (
            Self {
                sink,
                limits,
                shares,
            },
            tx,
        )
    }

    /// Delivers shares until they stop coming or one cannot be delivered.
    pub async fn run(mut self, ctx: &RunContext, answers: mpsc::UnboundedSender<Answer>) {
        while let Some(share) = self.shares.recv().await {
            let stopped = self.deliver_share(ctx, &share.events).await;
            let last = stopped.is_some();
            let answer = Answer {
                batch: share.batch,
                stopped,
            };
            if answers.send(answer).is_err() || last {
                return;
            }
        }
    }

    async fn deliver_share(&mut self, ctx: &RunContext, events: &[RecordedEvent]) -> Option<Stop> {
        let mut handled: Option<Position> = None;
        for chunk in chunks(events, &self.limits) {
            // Checked before every request, as the delivering half checks
            // before it takes a batch: a lane never runs ahead of a stop.
            if ctx.cancel.is_cancelled() {
                return Some(Stop::Cancelled);
            }
            if !ctx.tenure.holds() {
                return Some(Stop::LeaseLost);
            }
            match deliver(ctx, self.sink.as_mut(), chunk).await {
                Delivery::Done => {
                    ctx.status.set_retrying(false);
                    handled = chunk.last().map(|e| e.position);
                }
                Delivery::Fault {
                    handled_up_to,
                    fault,
                } => {
                    return Some(Stop::Fault {
                        handled_up_to: handled_up_to.or(handled),
                        fault,
                    })
                }
                Delivery::Cancelled => return Some(Stop::Cancelled),
            }
        }
        None
    }
}

/// Which lane each event goes to: all to one lane without a key, else by
/// the key's lane; each lane's events in log order. Only lanes with events
/// are listed.
pub(super) fn split(
    events: Vec<RecordedEvent>,
    key: Option<&OrderKey>,
    lanes: usize,
) -> Vec<(usize, Vec<RecordedEvent>)> {
    let Some(key) = key.filter(|_| lanes > 1) else {
        return if events.is_empty() {
            Vec::new()
        } else {
            vec![(0, events)]
        };
    };
    let mut shares: Vec<Vec<RecordedEvent>> = (0..lanes).map(|_| Vec::new()).collect();
    for event in events {
        shares[key.lane(&event, lanes)].push(event);
    }
    shares
        .into_iter()
        .enumerate()
        .filter(|(_, events)| !events.is_empty())
        .collect()
}

/// `events` cut into the sink's batches: at most `max_events` and
/// `max_bytes` each, never between events at one position (a batch holds at
/// least one position's events, even when they are more).
pub(super) fn chunks<'a>(
    events: &'a [RecordedEvent],
    limits: &BatchLimits,
) -> impl Iterator<Item = &'a [RecordedEvent]> {
    let (max_events, max_bytes) = (limits.max_events.max(1), limits.max_bytes.max(1));
    let mut rest = events;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (mut end, mut bytes) = (0, 0);
        while end < rest.len() {
            // The events at the next position go in whole, or not at all.
            let position = rest[end].position;
            let group = rest[end..]
                .iter()
                .take_while(|e| e.position == position)
                .count();
            let size: usize = rest[end..end + group]
                .iter()
                .map(|e| e.data.len() + e.metadata.len())
                .sum();
            if end > 0 && (end + group > max_events || bytes + size > max_bytes) {
                break;
            }
            bytes += size;
            end += group;
        }
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::NewEvent;

    fn event(stream: &str, position: u64, bytes: usize) -> RecordedEvent {
        let new = NewEvent::json("T", &"x".repeat(bytes.saturating_sub(2)));
        RecordedEvent {
            id: new.id,
            stream: stream.into(),
            revision: position,
            position: Position::new(position, position),
            event_type: new.event_type,
            content_type: new.content_type,
            created: chrono::Utc::now(),
            data: new.data,
            metadata: new.metadata,
        }
    }

    fn limits(max_events: usize, max_bytes: usize) -> BatchLimits {
        BatchLimits {
            max_events,
            max_bytes,
            linger: Duration::ZERO,
        }
    }

    fn positions(chunk: &[RecordedEvent]) -> Vec<u64> {
        chunk.iter().map(|e| e.position.commit).collect()
    }

    #[test]
    fn chunks_keep_the_limits_and_never_split_a_position() {
        let events = vec![
            event("a", 1, 10),
            event("a", 2, 10),
            event("a", 2, 10),
            event("a", 2, 10),
            event("a", 3, 10),
        ];
        let by_two: Vec<_> = chunks(&events, &limits(2, 1000)).map(positions).collect();
        assert_eq!(by_two, vec![vec![1], vec![2, 2, 2], vec![3]]);
        let by_bytes: Vec<_> = chunks(&events, &limits(100, 15)).map(positions).collect();
        assert_eq!(by_bytes, vec![vec![1], vec![2, 2, 2], vec![3]]);
        let whole: Vec<_> = chunks(&events, &limits(100, 1000)).map(positions).collect();
        assert_eq!(whole, vec![vec![1, 2, 2, 2, 3]]);
        assert_eq!(chunks(&[], &limits(1, 1)).count(), 0);
    }

    #[test]
    fn split_keeps_each_keys_events_in_one_lane_in_log_order() {
        let events: Vec<_> = (0..200)
            .map(|n| event(&format!("s-{}", n % 10), n, 10))
            .collect();
        let shares = split(events, Some(&OrderKey::Stream), 4);
        let mut seen_in: std::collections::HashMap<String, usize> = Default::default();
        let mut total = 0;
        for (lane, share) in &shares {
            assert!(share.windows(2).all(|w| w[0].position < w[1].position));
            for event in share {
                let first = *seen_in.entry(event.stream.clone()).or_insert(*lane);
                assert_eq!(first, *lane, "{} is in one lane", event.stream);
            }
            total += share.len();
        }
        assert_eq!(total, 200);
        assert!(shares.len() > 1, "ten streams use more than one lane");
        let strict = split(vec![event("a", 1, 1), event("b", 2, 1)], None, 4);
        assert_eq!(strict.len(), 1);
        assert!(split(Vec::new(), Some(&OrderKey::Stream), 4).is_empty());
    }
}
