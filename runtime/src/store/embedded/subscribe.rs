//! `$all` subscriptions: one tokio task per subscription reads the log in
//! pages (bounded in events and bytes) after its position, filters, and
//! feeds a channel bounded in messages and bytes (a slow consumer slows the
//! reading down). At the head it reports `CaughtUp` once and
//! waits for the writer to publish a higher committed position.
//!
//! Woken at the head, the task first asks the published summary of the
//! commit ([`Committed::rules_out`]) whether any new event can pass its
//! filter. When none can, it moves its position to the new head and reports
//! the checkpoint a read would have reported, without querying SQLite: an
//! idle node's heartbeats cost each subscription a check of a few names, not
//! a read. Only when the checkpoint interval would have passed inside the
//! skipped events (a large commit) does it read, so the checkpoints it
//! reports are those a read reports (one more only when every event of the
//! commit was deleted again within it, where a read finds nothing).
//!
//! A read takes the events from the writer's [`Tail`] when it holds every
//! event after the subscription's position (a walk of shared memory that
//! clones only the events the filter passes), and from SQLite otherwise (a
//! subscription catching up from further back). Both yield the same events
//! and checkpoints: a page of either is turned into messages by the same
//! [`Cursor`], and the messages of a page go to the consumer as one
//! [`Chunk`].

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::committed::Committed;
use super::read::{read_after, Readers};
use super::tail::Tail;
use crate::store::page::event_bytes;
use crate::store::{
    ByteGate, Chunk, Position, RecordedEvent, StoreError, Subscription, SubscriptionFilter,
    SubscriptionMessage,
};

/// Events read per query.
const PAGE_SIZE: usize = 500;
/// Events walked in the tail per page (under its read lock).
const TAIL_PAGE_SIZE: usize = 4096;
/// Bytes read per query, and bytes of matching events taken from the tail
/// per page (a page of large events stops early).
const PAGE_BYTES: usize = 8 * 1024 * 1024;
/// Chunks (pages of messages) buffered between the task and the consumer.
const CHANNEL_CAPACITY: usize = 16;
/// Bytes of events buffered between the task and the consumer.
const CHANNEL_BYTES: usize = 16 * 1024 * 1024;

type Sender = mpsc::Sender<Result<Chunk, StoreError>>;

/// Starts a subscription delivering events after `after` (exclusive).
pub(super) fn spawn(
    readers: Arc<Readers>,
    tail: Arc<Tail>,
    head: watch::Receiver<Committed>,
    after: u64,
    filter: SubscriptionFilter,
) -> Subscription {
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let gate = ByteGate::new(CHANNEL_BYTES);
    let task = Task {
        tx,
        readers,
        tail,
        head,
        filter,
        gate: Arc::clone(&gate),
    };
    tokio::spawn(task.run(after));
    Subscription::chunked(rx, gate)
}

struct Task {
    tx: Sender,
    readers: Arc<Readers>,
    tail: Arc<Tail>,
    head: watch::Receiver<Committed>,
    filter: SubscriptionFilter,
    gate: Arc<ByteGate>,
}

/// Why the task stops.
enum Stop {
    /// The consumer dropped the subscription.
    Closed,
    Failed(StoreError),
}

/// Where a subscription is in the log, and the messages the events it
/// moves past yield: each event the filter passes, and a checkpoint every
/// `interval` events considered.
struct Cursor {
    /// The position of the last event considered.
    after: u64,
    since_checkpoint: u64,
    interval: u64,
    /// The last event considered was filtered out and no checkpoint has
    /// been reported since.
    skipped: bool,
}

impl Cursor {
    /// Moves past the event at `position`; `passed` is the event when the
    /// filter passes it.
    fn advance(
        &mut self,
        position: u64,
        passed: Option<RecordedEvent>,
        out: &mut Vec<SubscriptionMessage>,
    ) {
        self.after = position;
        self.since_checkpoint += 1;
        match passed {
            Some(event) => {
                out.push(SubscriptionMessage::Event(event));
                self.skipped = false;
            }
            None => self.skipped = true,
        }
        if self.since_checkpoint >= self.interval {
            self.checkpoint(out);
        }
    }

    fn checkpoint(&mut self, out: &mut Vec<SubscriptionMessage>) {
        out.push(SubscriptionMessage::Checkpoint(Position::new(
            self.after, self.after,
        )));
        self.since_checkpoint = 0;
        self.skipped = false;
    }
}

/// The messages of one page of the log.
struct Walked {
    messages: Vec<SubscriptionMessage>,
    /// The page stopped at its size: more events may follow.
    full: bool,
}

impl Task {
    async fn run(mut self, after: u64) {
        if let Err(Stop::Failed(error)) = self.deliver(after).await {
            tracing::debug!(%error, "subscription failed");
            let _ = self.tx.send(Err(error)).await;
        }
    }

    async fn deliver(&mut self, after: u64) -> Result<(), Stop> {
        let mut cursor = Cursor {
            after,
            since_checkpoint: 0,
            interval: u64::from(self.filter.checkpoint_interval.max(1)),
            skipped: false,
        };
        let mut caught_up = false;
        loop {
            // Everything up to `known_head` is committed, so a page that is not
            // full (in events or bytes) has seen all of it.
            let committed = self.head.borrow_and_update().clone();
            let known_head = committed.head;
            let new_events = known_head.saturating_sub(cursor.after);
            // A read of events that all fail the filter would report one
            // checkpoint at their end (none before it while the interval is
            // not passed inside them), so the same checkpoint is reported
            // unread.
            if caught_up
                && new_events > 0
                && cursor.since_checkpoint + new_events <= cursor.interval
                && committed.rules_out(cursor.after, &self.filter)
            {
                cursor.after = known_head;
                let mut messages = Vec::with_capacity(1);
                cursor.checkpoint(&mut messages);
                self.emit_all(messages).await?;
                self.wait_beyond(cursor.after).await?;
                continue;
            }
            cursor.skipped = false;
            let mut walked = match self.walk_tail(&mut cursor) {
                Some(walked) => walked,
                None => self.read_page(&mut cursor).await?,
            };
            if !walked.full {
                cursor.after = cursor.after.max(known_head);
            }
            if cursor.skipped {
                cursor.checkpoint(&mut walked.messages);
            }
            self.emit_all(walked.messages).await?;
            if walked.full {
                continue;
            }
            if !caught_up {
                self.emit(SubscriptionMessage::CaughtUp).await?;
                caught_up = true;
            }
            self.wait_beyond(cursor.after).await?;
        }
    }

    /// The next page from the tail, or `None` when the tail does not hold
    /// every event after the cursor.
    fn walk_tail(&self, cursor: &mut Cursor) -> Option<Walked> {
        let mut messages = Vec::new();
        let mut walked = 0usize;
        let mut bytes = 0usize;
        let mut cut_short = false;
        self.tail.walk_after(cursor.after, |event| {
            let passed = if self.filter.matches(event) {
                bytes = bytes.saturating_add(event_bytes(event));
                if bytes > PAGE_BYTES && !messages.is_empty() {
                    cut_short = true;
                    return false;
                }
                Some(event.clone())
            } else {
                None
            };
            cursor.advance(event.position.commit, passed, &mut messages);
            walked += 1;
            walked < TAIL_PAGE_SIZE
        })?;
        Some(Walked {
            messages,
            full: walked == TAIL_PAGE_SIZE || cut_short,
        })
    }

    /// The next page from SQLite.
    async fn read_page(&self, cursor: &mut Cursor) -> Result<Walked, Stop> {
        let after = cursor.after;
        let page = self
            .readers
            .run(move |conn| read_after(conn, after, PAGE_SIZE, PAGE_BYTES))
            .await
            .map_err(Stop::Failed)?;
        let full = page.events.len() == PAGE_SIZE || page.cut_short;
        let mut messages = Vec::new();
        for event in page.events {
            let position = event.position.commit;
            let passed = self.filter.matches(&event).then_some(event);
            cursor.advance(position, passed, &mut messages);
        }
        Ok(Walked { messages, full })
    }

    /// Waits until a position after `after` is committed.
    async fn wait_beyond(&mut self, after: u64) -> Result<(), Stop> {
        loop {
            if self.head.borrow_and_update().head > after {
                return Ok(());
            }
            tokio::select! {
                () = self.tx.closed() => return Err(Stop::Closed),
                changed = self.head.changed() => changed.map_err(|_| {
                    Stop::Failed(StoreError::Unavailable("the store was closed".into()))
                })?,
            }
        }
    }

    /// Sends the messages of a page as one chunk, once the consumer has
    /// room for its events.
    async fn emit_all(&self, messages: Chunk) -> Result<(), Stop> {
        if messages.is_empty() {
            return Ok(());
        }
        tokio::select! {
            () = self.gate.admit(&messages) => {}
            () = self.tx.closed() => return Err(Stop::Closed),
        }
        self.tx.send(Ok(messages)).await.map_err(|_| Stop::Closed)
    }

    async fn emit(&self, message: SubscriptionMessage) -> Result<(), Stop> {
        self.emit_all(vec![message]).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::SqliteStore;
    use crate::store::{
        EventStore, ExpectedRevision, Matcher, NewEvent, Position, StreamMetadata, SubscribeFrom,
        SubscriptionFilter, SubscriptionMessage,
    };

    const WAIT: Duration = Duration::from_secs(10);

    fn events(event_type: &str, count: usize) -> Vec<NewEvent> {
        (0..count)
            .map(|n| NewEvent::json(event_type, &serde_json::json!({ "n": n })))
            .collect()
    }

    async fn next(subscription: &mut crate::store::Subscription) -> SubscriptionMessage {
        tokio::time::timeout(WAIT, subscription.next())
            .await
            .expect("a message in time")
            .expect("the subscription goes on")
            .expect("no error")
    }

    fn orders(checkpoint_interval: u32) -> SubscriptionFilter {
        SubscriptionFilter {
            stream: Some(Matcher::Prefixes(vec!["orders-".into()])),
            checkpoint_interval,
            ..SubscriptionFilter::default()
        }
    }

    /// At the head, appends the filter cannot match move the subscription
    /// to each new head with one checkpoint, as a read would, and the next
    /// matching event still arrives.
    #[tokio::test]
    async fn skipped_appends_at_the_head_report_the_new_head() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("events.db")).expect("open");
        let mut subscription = store
            .subscribe_all(SubscribeFrom::Start, orders(100))
            .await
            .expect("subscribe");
        assert!(matches!(
            next(&mut subscription).await,
            SubscriptionMessage::CaughtUp
        ));
        for round in 1..=3u64 {
            let appended = store
                .append(
                    "$connectors-members",
                    ExpectedRevision::Any,
                    events("Heartbeat", 2),
                )
                .await
                .expect("append");
            assert_eq!(appended.position, Position::new(round * 2, round * 2));
            match next(&mut subscription).await {
                SubscriptionMessage::Checkpoint(at) => assert_eq!(at, appended.position),
                other => panic!("expected a checkpoint, got {other:?}"),
            }
        }
        let order = store
            .append("orders-1", ExpectedRevision::Any, events("OrderPlaced", 1))
            .await
            .expect("append");
        match next(&mut subscription).await {
            SubscriptionMessage::Event(event) => assert_eq!(event.position, order.position),
            other => panic!("expected the order, got {other:?}"),
        }
    }

    /// A commit larger than the checkpoint interval is read, so its
    /// checkpoints fall where a read puts them.
    #[tokio::test]
    async fn a_commit_past_the_interval_reports_the_interval_checkpoints() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("events.db")).expect("open");
        let mut subscription = store
            .subscribe_all(SubscribeFrom::Start, orders(4))
            .await
            .expect("subscribe");
        assert!(matches!(
            next(&mut subscription).await,
            SubscriptionMessage::CaughtUp
        ));
        store
            .append("payments-1", ExpectedRevision::Any, events("Paid", 10))
            .await
            .expect("append");
        let mut checkpoints = Vec::new();
        while checkpoints.last() != Some(&10) {
            match next(&mut subscription).await {
                SubscriptionMessage::Checkpoint(at) => checkpoints.push(at.commit),
                other => panic!("expected checkpoints, got {other:?}"),
            }
        }
        assert_eq!(checkpoints, vec![4, 8, 10]);
    }

    async fn events_until_caught_up(
        subscription: &mut crate::store::Subscription,
    ) -> Vec<(String, u64)> {
        let mut seen = Vec::new();
        loop {
            match next(subscription).await {
                SubscriptionMessage::Event(event) => seen.push((event.stream, event.revision)),
                SubscriptionMessage::Checkpoint(_) => {}
                SubscriptionMessage::CaughtUp => return seen,
            }
        }
    }

    /// Events deleted after they were committed (`$maxCount`, soft delete)
    /// are not delivered from the tail, as a read of the database would not
    /// find them.
    #[tokio::test]
    async fn deleted_events_are_not_delivered_from_the_tail() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("events.db")).expect("open");
        for stream in ["orders-1", "orders-2", "orders-3"] {
            store
                .append(stream, ExpectedRevision::Any, events("OrderPlaced", 3))
                .await
                .expect("append");
        }
        let max_two = StreamMetadata {
            max_count: Some(2),
            ..StreamMetadata::default()
        };
        store
            .set_stream_metadata("orders-1", max_two)
            .await
            .expect("set metadata");
        store
            .delete_stream("orders-2", ExpectedRevision::Any)
            .await
            .expect("delete");
        let mut subscription = store
            .subscribe_all(SubscribeFrom::Start, orders(100))
            .await
            .expect("subscribe");
        let expected: Vec<(String, u64)> = [("orders-1", 1), ("orders-1", 2)]
            .into_iter()
            .chain((0..3).map(|r| ("orders-3", r)))
            .map(|(s, r)| (s.to_owned(), r))
            .collect();
        assert_eq!(events_until_caught_up(&mut subscription).await, expected);
    }

    /// A store opened on an existing log holds none of it in its tail: a
    /// subscription from the start reads the database, then the new events
    /// from the tail, each once and in order.
    #[tokio::test]
    async fn a_subscription_behind_the_tail_reads_the_database_first() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("events.db");
        {
            let store = SqliteStore::open(&path).expect("open");
            store
                .append(
                    "orders-1",
                    ExpectedRevision::Any,
                    events("OrderPlaced", 700),
                )
                .await
                .expect("append");
        }
        let store = SqliteStore::open(&path).expect("open again");
        let mut subscription = store
            .subscribe_all(SubscribeFrom::Start, orders(100))
            .await
            .expect("subscribe");
        let old = events_until_caught_up(&mut subscription).await;
        assert_eq!(old.len(), 700);
        store
            .append("orders-1", ExpectedRevision::Any, events("OrderPlaced", 5))
            .await
            .expect("append");
        let mut revisions: Vec<u64> = old.into_iter().map(|(_, r)| r).collect();
        while revisions.len() < 705 {
            if let SubscriptionMessage::Event(event) = next(&mut subscription).await {
                assert_eq!(event.position.commit, event.revision + 1);
                revisions.push(event.revision);
            }
        }
        assert_eq!(revisions, (0..705).collect::<Vec<u64>>());
    }
}
