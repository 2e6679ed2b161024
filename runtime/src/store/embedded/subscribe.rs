//! `$all` subscriptions: one tokio task per subscription reads the log in
//! pages (bounded in events and bytes) after its position, filters, and
//! feeds a channel bounded in messages and bytes (a slow consumer slows the
//! reading down). At the head it reports `CaughtUp` once and
//! waits for the writer to publish a higher committed position.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

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
    head: watch::Receiver<u64>,
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
    head: watch::Receiver<u64>,
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
            let known_head = *self.head.borrow_and_update();
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
            if *self.head.borrow_and_update() > after {
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
