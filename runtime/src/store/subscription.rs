//! What a consumer reads a subscription through: [`Subscription`], fed by a
//! backend task over a channel, one message at a time or in [`Chunk`]s.
//!
//! A backend that produces messages a page at a time sends each page as one
//! chunk, so a catch-up of many events costs one hand-over (one wake-up of
//! the consumer, one admission) per page instead of one per event; the
//! consumer still takes the messages one by one. [`ByteGate`] bounds the
//! bytes of events sent and not yet taken.

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};

use super::page::event_bytes;
use super::{RecordedEvent, StoreError, SubscriptionMessage};

/// Messages a backend sends at once, in order.
pub type Chunk = Vec<SubscriptionMessage>;

/// A live subscription; dropping it ends it.
pub struct Subscription {
    source: Source,
    /// The rest of the chunk being taken.
    pending: std::vec::IntoIter<SubscriptionMessage>,
    /// What the chunk being taken holds of the [`ByteGate`]'s budget; given
    /// back once all of it was taken.
    held_kib: usize,
}

enum Source {
    Messages(mpsc::Receiver<Result<SubscriptionMessage, StoreError>>),
    Chunks {
        receiver: mpsc::Receiver<Result<Chunk, StoreError>>,
        gate: Arc<ByteGate>,
    },
}

impl Subscription {
    /// Wraps the receiving end of a channel fed by a backend task, one
    /// message at a time. The task should stop when the channel is closed.
    pub fn new(receiver: mpsc::Receiver<Result<SubscriptionMessage, StoreError>>) -> Self {
        Self::from_source(Source::Messages(receiver))
    }

    /// Like [`Subscription::new`], for a backend task that sends whole
    /// chunks, each admitted through `gate` ([`ByteGate::admit`]) first.
    pub fn chunked(
        receiver: mpsc::Receiver<Result<Chunk, StoreError>>,
        gate: Arc<ByteGate>,
    ) -> Self {
        Self::from_source(Source::Chunks { receiver, gate })
    }

    fn from_source(source: Source) -> Self {
        Self {
            source,
            pending: Vec::new().into_iter(),
            held_kib: 0,
        }
    }

    /// The next message; `None` once the backend ended the subscription
    /// (after reporting an error). Cancel-safe: a message is taken only by
    /// the call that returns it.
    pub async fn next(&mut self) -> Option<Result<SubscriptionMessage, StoreError>> {
        loop {
            if let Some(message) = self.pending.next() {
                return Some(Ok(message));
            }
            match &mut self.source {
                Source::Messages(receiver) => return receiver.recv().await,
                Source::Chunks { receiver, gate } => {
                    // All of the last chunk was taken: its bytes are free
                    // before waiting, so a task held at the gate can send.
                    gate.release_kib(std::mem::take(&mut self.held_kib));
                    match receiver.recv().await? {
                        Ok(chunk) => {
                            self.held_kib = gate.kib_of(&chunk);
                            self.pending = chunk.into_iter();
                        }
                        Err(error) => return Some(Err(error)),
                    }
                }
            }
        }
    }
}

/// Bounds the bytes of events a backend task has sent down a subscription's
/// channel and the consumer has not taken yet: the task waits in
/// [`ByteGate::admit`] before sending a chunk, [`Subscription::next`]
/// releases it once all of it was taken.
#[derive(Debug)]
pub struct ByteGate {
    permits: Semaphore,
    /// The budget in KiB; a chunk bigger than all of it takes all of it.
    total_kib: usize,
}

impl ByteGate {
    pub fn new(max_bytes: usize) -> Arc<Self> {
        let total_kib = (max_bytes / 1024).clamp(1, Semaphore::MAX_PERMITS);
        Arc::new(Self {
            permits: Semaphore::new(total_kib),
            total_kib,
        })
    }

    /// What the events of `chunk` count against the budget: a KiB or more
    /// each, all of the budget at most.
    fn kib_of(&self, chunk: &[SubscriptionMessage]) -> usize {
        let kib: usize = chunk
            .iter()
            .filter_map(|message| match message {
                SubscriptionMessage::Event(event) => Some(kib(event)),
                _ => None,
            })
            .sum();
        kib.min(self.total_kib)
    }

    /// Waits until the events of `chunk` fit the budget, and counts them in.
    pub async fn admit(&self, chunk: &[SubscriptionMessage]) {
        let kib = u32::try_from(self.kib_of(chunk)).unwrap_or(u32::MAX);
        if kib == 0 {
            return;
        }
        if let Ok(permit) = self.permits.acquire_many(kib).await {
            permit.forget();
        }
    }

    fn release_kib(&self, kib: usize) {
        if kib > 0 {
            self.permits.add_permits(kib);
        }
    }
}

fn kib(event: &RecordedEvent) -> usize {
    event_bytes(event).div_ceil(1024).max(1)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::store::{ContentType, Position};

    fn event(n: u64, data_bytes: usize) -> SubscriptionMessage {
        SubscriptionMessage::Event(RecordedEvent {
            id: Uuid::new_v4(),
            stream: "s".into(),
            revision: n,
            position: Position::new(n, n),
            event_type: "t".into(),
            content_type: ContentType::Binary,
            created: Utc::now(),
            data: vec![0; data_bytes].into(),
            metadata: Default::default(),
        })
    }

    #[tokio::test]
    async fn chunks_are_taken_one_message_at_a_time_in_order() {
        let (sender, receiver) = mpsc::channel(4);
        let gate = ByteGate::new(1 << 20);
        let mut subscription = Subscription::chunked(receiver, Arc::clone(&gate));
        let first = vec![
            event(1, 10),
            SubscriptionMessage::Checkpoint(Position::new(1, 1)),
        ];
        gate.admit(&first).await;
        sender.send(Ok(first)).await.unwrap();
        gate.admit(&[]).await;
        sender.send(Ok(Vec::new())).await.unwrap();
        let second = vec![event(2, 10), SubscriptionMessage::CaughtUp];
        gate.admit(&second).await;
        sender.send(Ok(second)).await.unwrap();
        sender
            .send(Err(StoreError::Unavailable("gone".into())))
            .await
            .unwrap();
        drop(sender);

        let mut taken = Vec::new();
        while let Some(message) = subscription.next().await {
            taken.push(message);
        }
        let shapes: Vec<String> = taken
            .iter()
            .map(|m| match m {
                Ok(SubscriptionMessage::Event(e)) => format!("event {}", e.revision),
                Ok(SubscriptionMessage::Checkpoint(p)) => format!("checkpoint {p}"),
                Ok(SubscriptionMessage::CaughtUp) => "caught up".into(),
                Err(e) => format!("error {e}"),
            })
            .collect();
        assert_eq!(
            shapes,
            [
                "event 1",
                "checkpoint 1",
                "event 2",
                "caught up",
                "error store unavailable: gone"
            ]
        );
    }

    #[tokio::test]
    async fn a_chunk_frees_its_bytes_once_all_of_it_was_taken() {
        let (sender, receiver) = mpsc::channel(4);
        // Two KiB: room for two small events.
        let gate = ByteGate::new(2048);
        let mut subscription = Subscription::chunked(receiver, Arc::clone(&gate));
        let chunk = vec![event(1, 10), event(2, 10)];
        gate.admit(&chunk).await;
        sender.send(Ok(chunk)).await.unwrap();

        // The budget is spent: the next chunk waits.
        let next_chunk = [event(3, 10)];
        let blocked = tokio::time::timeout(Duration::from_millis(50), gate.admit(&next_chunk));
        assert!(blocked.await.is_err(), "admitted beyond the budget");

        // Taking one event of the chunk does not free it; taking all of it
        // and asking for more does.
        assert!(matches!(
            subscription.next().await,
            Some(Ok(SubscriptionMessage::Event(_)))
        ));
        let still_blocked =
            tokio::time::timeout(Duration::from_millis(50), gate.admit(&next_chunk));
        assert!(
            still_blocked.await.is_err(),
            "freed before the chunk was taken"
        );
        assert!(matches!(
            subscription.next().await,
            Some(Ok(SubscriptionMessage::Event(_)))
        ));
        let waiting = tokio::spawn(async move { subscription.next().await.map(|m| m.is_ok()) });
        tokio::time::timeout(Duration::from_secs(10), gate.admit(&next_chunk))
            .await
            .expect("the budget is free once the chunk was taken");
        drop(sender);
        assert_eq!(waiting.await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_chunk_larger_than_the_budget_still_passes_alone() {
        let gate = ByteGate::new(1024);
        let huge = vec![event(1, 10 * 1024)];
        tokio::time::timeout(Duration::from_secs(10), gate.admit(&huge))
            .await
            .expect("a chunk over the budget takes all of it");
    }
}
