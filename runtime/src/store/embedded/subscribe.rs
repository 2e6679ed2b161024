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

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::committed::Committed;
use super::read::{read_after, Readers};
use crate::store::{
    ByteGate, Position, StoreError, Subscription, SubscriptionFilter, SubscriptionMessage,
};

/// Events read per query.
const PAGE_SIZE: usize = 500;
/// Bytes read per query (a page of large events stops early).
const PAGE_BYTES: usize = 8 * 1024 * 1024;
/// Messages buffered between the task and the consumer.
const CHANNEL_CAPACITY: usize = 256;
/// Bytes of events buffered between the task and the consumer.
const CHANNEL_BYTES: usize = 16 * 1024 * 1024;

type Sender = mpsc::Sender<Result<SubscriptionMessage, StoreError>>;

/// Starts a subscription delivering events after `after` (exclusive).
pub(super) fn spawn(
    readers: Arc<Readers>,
    head: watch::Receiver<Committed>,
    after: u64,
    filter: SubscriptionFilter,
) -> Subscription {
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let gate = ByteGate::new(CHANNEL_BYTES);
    let task = Task {
        tx,
        readers,
        head,
        filter,
        gate: Arc::clone(&gate),
    };
    tokio::spawn(task.run(after));
    Subscription::with_gate(rx, gate)
}

struct Task {
    tx: Sender,
    readers: Arc<Readers>,
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

impl Task {
    async fn run(mut self, after: u64) {
        if let Err(Stop::Failed(error)) = self.deliver(after).await {
            tracing::debug!(%error, "subscription failed");
            let _ = self.tx.send(Err(error)).await;
        }
    }

    async fn deliver(&mut self, mut after: u64) -> Result<(), Stop> {
        let interval = u64::from(self.filter.checkpoint_interval.max(1));
        let mut since_checkpoint = 0u64;
        let mut caught_up = false;
        loop {
            // Everything up to `known_head` is committed, so a page that is not
            // full (in events or bytes) has seen all of it.
            let committed = self.head.borrow_and_update().clone();
            let known_head = committed.head;
            let new_events = known_head.saturating_sub(after);
            // A read of events that all fail the filter would report one
            // checkpoint at their end (none before it while the interval is
            // not passed inside them), so the same checkpoint is reported
            // unread.
            if caught_up
                && new_events > 0
                && since_checkpoint + new_events <= interval
                && committed.rules_out(after, &self.filter)
            {
                after = known_head;
                self.checkpoint(after).await?;
                since_checkpoint = 0;
                self.wait_beyond(after).await?;
                continue;
            }
            let page = self
                .readers
                .run(move |conn| read_after(conn, after, PAGE_SIZE, PAGE_BYTES))
                .await
                .map_err(Stop::Failed)?;
            let full = page.events.len() == PAGE_SIZE || page.cut_short;
            let mut skipped = false;
            for event in page.events {
                after = event.position.commit;
                since_checkpoint += 1;
                if self.filter.matches(&event) {
                    self.emit(SubscriptionMessage::Event(event)).await?;
                    skipped = false;
                } else {
                    skipped = true;
                }
                if since_checkpoint >= interval {
                    self.checkpoint(after).await?;
                    since_checkpoint = 0;
                    skipped = false;
                }
            }
            if !full {
                after = after.max(known_head);
            }
            if skipped {
                self.checkpoint(after).await?;
                since_checkpoint = 0;
            }
            if full {
                continue;
            }
            if !caught_up {
                self.emit(SubscriptionMessage::CaughtUp).await?;
                caught_up = true;
            }
            self.wait_beyond(after).await?;
        }
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

    async fn checkpoint(&self, position: u64) -> Result<(), Stop> {
        self.emit(SubscriptionMessage::Checkpoint(Position::new(
            position, position,
        )))
        .await
    }

    async fn emit(&self, message: SubscriptionMessage) -> Result<(), Stop> {
        if let SubscriptionMessage::Event(event) = &message {
            tokio::select! {
                () = self.gate.admit(event) => {}
                () = self.tx.closed() => return Err(Stop::Closed),
            }
        }
        self.tx.send(Ok(message)).await.map_err(|_| Stop::Closed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::SqliteStore;
    use crate::store::{
        EventStore, ExpectedRevision, Matcher, NewEvent, Position, SubscribeFrom,
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
}
