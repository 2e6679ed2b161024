use futures::FutureExt as _;
use tokio::time::{timeout_at, Instant};

use crate::sinks::BatchLimits;
use crate::store::{Position, RecordedEvent, StoreError, Subscription, SubscriptionMessage};

const MAX_MESSAGES: usize = 10_000;

/// What one collection round took from the subscription.
#[derive(Default)]
pub(super) struct Collected {
    /// Events read, in log order; the JSONPath filter runs on them next
    /// (see `json_filter`).
    pub events: Vec<RecordedEvent>,
    /// Everything up to here was read; once `events` are delivered the
    /// pipeline may checkpoint it.
    pub end: Option<Position>,
    /// Events read, including the ones the JSONPath filter drops.
    pub considered: u64,
    bytes: usize,
}

impl Collected {
    fn full(&self, limits: &BatchLimits) -> bool {
        self.events.len() >= limits.max_events || self.bytes >= limits.max_bytes
    }
}

/// Reads the next batch: waits for a first message until `idle_deadline`
/// (forever when `None`), then takes more until the batch is full or, once it
/// has an event, the linger time has passed.
pub(super) async fn collect(
    subscription: &mut Subscription,
    limits: &BatchLimits,
    idle_deadline: Option<Instant>,
) -> Result<Collected, StoreError> {
    let mut batch = Collected::default();
    let first = match idle_deadline {
        Some(deadline) => match timeout_at(deadline, subscription.next()).await {
            Ok(message) => message,
            Err(_) => return Ok(batch),
        },
        None => subscription.next().await,
    };
    take(&mut batch, first)?;
    let mut linger_until: Option<Instant> = None;
    let mut messages = 1;
    // The message cap returns progress (checkpoints) regularly even when a
    // long catch-up yields no event for the sink.
    while !batch.full(limits) && messages < MAX_MESSAGES {
        messages += 1;
        if linger_until.is_none() && !batch.events.is_empty() {
            linger_until = Some(Instant::now() + limits.linger);
        }
        // Without events yet, or once the linger is over, only take what
        // is already there: without a timer, whose tick (a millisecond)
        // would hold every batch of a sink that does not linger.
        let until = match linger_until {
            Some(until) if until > Instant::now() => until,
            _ => match subscription.next().now_or_never() {
                Some(message) => {
                    take(&mut batch, message)?;
                    continue;
                }
                None => break,
            },
        };
        match timeout_at(until, subscription.next()).await {
            Ok(message) => take(&mut batch, message)?,
            Err(_) => break,
        }
    }
    Ok(batch)
}

fn take(
    batch: &mut Collected,
    message: Option<Result<SubscriptionMessage, StoreError>>,
) -> Result<(), StoreError> {
    match message {
        None => Err(StoreError::Unavailable("the subscription ended".into())),
        Some(Err(e)) => Err(e),
        // Whether the connector is caught up is decided against the head
        // when its status is read, not remembered from the subscription.
        Some(Ok(SubscriptionMessage::CaughtUp)) => Ok(()),
        Some(Ok(SubscriptionMessage::Checkpoint(position))) => {
            batch.end = batch.end.max(Some(position));
            Ok(())
        }
        Some(Ok(SubscriptionMessage::Event(event))) => {
            batch.end = batch.end.max(Some(event.position));
            batch.considered += 1;
            batch.bytes += event.data.len() + event.metadata.len();
            batch.events.push(event);
            Ok(())
        }
    }
}
