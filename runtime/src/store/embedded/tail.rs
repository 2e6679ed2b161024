//! The tail of the log: the most recently committed events, kept in memory
//! by the writer so that subscriptions near the head read them from here
//! instead of each querying SQLite. With many subscriptions (one per
//! connector) every one of them walks every new event of `$all`; from the
//! tail that walk is a scan of shared memory that clones only the events the
//! subscription's filter passes, where a query decodes and copies every row
//! on the blocking pool.
//!
//! The writer adds each committed group's events (and drops the events the
//! group deleted: `$maxCount`, soft delete, tombstone) *before* it publishes
//! the new head, so the tail always holds every committed event from its
//! first position on, exactly as a read would find them. It keeps the most
//! recent [`MAX_EVENTS`] events and [`MAX_BYTES`] (as [`event_bytes`]
//! counts them); a subscription further behind reads SQLite until it is
//! within the tail.

use std::collections::VecDeque;
use std::sync::{PoisonError, RwLock};

use crate::store::page::event_bytes;
use crate::store::RecordedEvent;

/// Most events kept.
const MAX_EVENTS: usize = 65_536;
/// Most bytes of events kept.
const MAX_BYTES: usize = 32 * 1024 * 1024;

/// The recent events, shared by the writer and the subscriptions.
#[derive(Debug)]
pub(super) struct Tail {
    window: RwLock<Window>,
}

/// Events at consecutive positions from `first` on; a deleted event leaves
/// a `None` in its place.
#[derive(Debug)]
struct Window {
    first: u64,
    events: VecDeque<Option<RecordedEvent>>,
    bytes: usize,
}

/// What one committed group changed, as the writer collects it.
#[derive(Debug, Default)]
pub(super) struct GroupChanges {
    pub appended: Vec<RecordedEvent>,
    pub deleted: Vec<u64>,
}

impl GroupChanges {
    /// How much has been collected, to roll back to with [`truncate`].
    ///
    /// [`truncate`]: GroupChanges::truncate
    pub fn mark(&self) -> (usize, usize) {
        (self.appended.len(), self.deleted.len())
    }

    /// Forgets what was collected after `mark` (a failed operation).
    pub fn truncate(&mut self, mark: (usize, usize)) {
        self.appended.truncate(mark.0);
        self.deleted.truncate(mark.1);
    }
}

impl Tail {
    /// An empty tail for a log whose last position is `head`.
    pub fn new(head: u64) -> Tail {
        Tail {
            window: RwLock::new(Window {
                first: head + 1,
                events: VecDeque::new(),
                bytes: 0,
            }),
        }
    }

    /// Adds a committed group: its events (at consecutive positions after
    /// the tail's last one) and the positions it deleted.
    pub fn apply(&self, changes: GroupChanges) {
        let mut window = self.window.write().unwrap_or_else(PoisonError::into_inner);
        for position in changes.deleted {
            window.delete(position);
        }
        for event in changes.appended {
            window.push(event);
        }
        window.evict();
    }

    /// Walks the events after `after` with `visit`, under the read lock,
    /// until `visit` returns false or the tail ends. `None` when the tail
    /// does not hold every event after `after` (read SQLite instead).
    pub fn walk_after(
        &self,
        after: u64,
        mut visit: impl FnMut(&RecordedEvent) -> bool,
    ) -> Option<()> {
        let window = self.window.read().unwrap_or_else(PoisonError::into_inner);
        let start = usize::try_from((after + 1).checked_sub(window.first)?).ok()?;
        for event in window.events.iter().skip(start).flatten() {
            if !visit(event) {
                break;
            }
        }
        Some(())
    }
}

impl Window {
    fn next_position(&self) -> u64 {
        self.first + self.events.len() as u64
    }

    fn push(&mut self, event: RecordedEvent) {
        let position = event.position.commit;
        if position != self.next_position() {
            // Not the next position (cannot happen: the writer assigns them
            // one after another): start afresh so no gap is ever hidden.
            self.events.clear();
            self.bytes = 0;
            self.first = position;
        }
        self.bytes += event_bytes(&event);
        self.events.push_back(Some(event));
    }

    fn delete(&mut self, position: u64) {
        let Some(index) = position
            .checked_sub(self.first)
            .and_then(|i| usize::try_from(i).ok())
        else {
            return;
        };
        if let Some(slot) = self.events.get_mut(index) {
            if let Some(event) = slot.take() {
                self.bytes -= event_bytes(&event);
            }
        }
    }

    fn evict(&mut self) {
        while self.events.len() > MAX_EVENTS || self.bytes > MAX_BYTES {
            let Some(slot) = self.events.pop_front() else {
                break;
            };
            if let Some(event) = slot {
                self.bytes -= event_bytes(&event);
            }
            self.first += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::store::{ContentType, Position};

    fn event(position: u64, data_len: usize) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::new_v4(),
            stream: "orders-1".into(),
            revision: position,
            position: Position::new(position, position),
            event_type: "OrderPlaced".into(),
            content_type: ContentType::Json,
            created: Utc::now(),
            data: vec![b'x'; data_len].into(),
            metadata: Vec::<u8>::new().into(),
        }
    }

    fn positions_after(tail: &Tail, after: u64) -> Option<Vec<u64>> {
        let mut seen = Vec::new();
        tail.walk_after(after, |e| {
            seen.push(e.position.commit);
            true
        })
        .map(|()| seen)
    }

    fn group(positions: std::ops::RangeInclusive<u64>, deleted: Vec<u64>) -> GroupChanges {
        GroupChanges {
            appended: positions.map(|p| event(p, 10)).collect(),
            deleted,
        }
    }

    #[test]
    fn holds_what_was_committed_after_it_was_opened() {
        let tail = Tail::new(10);
        assert_eq!(positions_after(&tail, 10), Some(vec![]));
        assert_eq!(positions_after(&tail, 9), None, "position 10 is not held");
        tail.apply(group(11..=13, vec![]));
        assert_eq!(positions_after(&tail, 10), Some(vec![11, 12, 13]));
        assert_eq!(positions_after(&tail, 12), Some(vec![13]));
        assert_eq!(positions_after(&tail, 20), Some(vec![]));
    }

    #[test]
    fn deleted_events_are_not_walked() {
        let tail = Tail::new(0);
        tail.apply(group(1..=3, vec![]));
        tail.apply(group(4..=5, vec![1, 3]));
        assert_eq!(positions_after(&tail, 0), Some(vec![2, 4, 5]));
        // Positions the tail never held are ignored.
        tail.apply(group(6..=6, vec![0, 99]));
        assert_eq!(positions_after(&tail, 0), Some(vec![2, 4, 5, 6]));
    }

    #[test]
    fn a_walk_stops_when_told() {
        let tail = Tail::new(0);
        tail.apply(group(1..=5, vec![]));
        let mut seen = Vec::new();
        tail.walk_after(0, |e| {
            seen.push(e.position.commit);
            seen.len() < 2
        });
        assert_eq!(seen, vec![1, 2]);
    }

    #[test]
    fn keeps_the_most_recent_events_within_its_bounds() {
        let tail = Tail::new(0);
        tail.apply(group(1..=MAX_EVENTS as u64 + 10, vec![]));
        assert_eq!(positions_after(&tail, 9), None, "the oldest were dropped");
        assert_eq!(
            positions_after(&tail, 10).map(|p| p.len()),
            Some(MAX_EVENTS)
        );

        let large = Tail::new(0);
        large.apply(GroupChanges {
            appended: (1..=5).map(|p| event(p, MAX_BYTES / 4)).collect(),
            deleted: vec![],
        });
        assert_eq!(positions_after(&large, 1), None);
        assert_eq!(positions_after(&large, 2), Some(vec![3, 4, 5]));
    }
}
