//! `$all` subscriptions that survive lost connections.
//!
//! A task per subscription runs the client's subscription (with the client's
//! own retries off) and forwards its messages. It remembers the last
//! position it saw (of an event or a checkpoint); when the subscription fails
//! with a transient error (connection lost, server restarting) it waits with
//! exponential backoff and subscribes again *after* that position, so nothing
//! is skipped, and drops any event at or before it, so nothing is delivered
//! twice. Other errors (access denied, a filter the server refuses) are sent
//! to the [`Subscription`] once, which then ends. The task stops as soon as
//! the [`Subscription`] is dropped.

use std::sync::Arc;
use std::time::Duration;

use kurrentdb::{SubscribeToAllOptions, SubscriptionEvent};
use tokio::sync::mpsc;

use super::connection::Connection;
use super::convert;
use super::errors::{self, Context};
use crate::backoff::Backoff;
use crate::store::{Position, StoreError, Subscription, SubscriptionFilter, SubscriptionMessage};

/// Messages buffered between the task and the [`Subscription`].
const CHANNEL_CAPACITY: usize = 256;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

type Sender = mpsc::Sender<Result<SubscriptionMessage, StoreError>>;

/// Starts a subscription after `start` (`None`: from the start of `$all`).
pub(super) fn spawn(
    connection: Arc<Connection>,
    start: Option<Position>,
    filter: SubscriptionFilter,
) -> Subscription {
    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    let task = Task {
        server_filter: convert::server_filter(&filter),
        filter,
        connection,
        last: start,
        last_checkpoint: None,
        caught_up: false,
        unreported: 0,
    };
    tokio::spawn(task.run(sender));
    Subscription::new(receiver)
}

struct Task {
    connection: Arc<Connection>,
    filter: SubscriptionFilter,
    server_filter: Option<kurrentdb::SubscriptionFilter>,
    /// The last position seen (event or checkpoint): where to resubscribe.
    last: Option<Position>,
    /// The last checkpoint reported, so checkpoints never go backwards.
    last_checkpoint: Option<Position>,
    /// Whether `CaughtUp` was reported (only the first one is).
    caught_up: bool,
    /// Events considered since the last checkpoint when checkpoints are made
    /// here (no server-side filter).
    unreported: u32,
}

/// Why one run of the client's subscription ended.
enum End {
    /// The [`Subscription`] was dropped.
    Closed,
    Failed(kurrentdb::Error),
}

impl Task {
    async fn run(mut self, sender: Sender) {
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        let mut attempt = 0u32;
        loop {
            let (generation, client) = self.connection.client();
            let mut options =
                SubscribeToAllOptions::default().position(convert::subscription_start(self.last));
            if let Some(filter) = &self.server_filter {
                options = options.filter(filter.clone());
            }
            tracing::debug!(after = ?self.last, attempt, "subscribing to $all");
            let mut subscription = client.subscribe_to_all(&options).await;
            let end = tokio::select! {
                () = sender.closed() => End::Closed,
                end = self.forward(&mut subscription, &sender, &mut backoff) => end,
            };
            let error = match end {
                End::Closed => return,
                End::Failed(error) => error,
            };
            if !errors::is_transient(&error) {
                tracing::warn!(%error, "the $all subscription failed");
                let error = errors::store_error(error, Context::all("subscribe to $all"));
                // The subscription may be gone already; nothing else to do.
                let _ = sender.send(Err(error)).await;
                return;
            }
            if errors::is_connection_failure(&error) {
                self.connection.reset(generation);
            }
            attempt += 1;
            let delay = backoff.next_wait();
            tracing::warn!(
                %error,
                after = ?self.last,
                retry_in = ?delay,
                attempt,
                "the $all subscription dropped; resubscribing"
            );
            tokio::select! {
                () = sender.closed() => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Forwards the messages of one run of the client's subscription until
    /// it fails or the [`Subscription`] is dropped.
    async fn forward(
        &mut self,
        subscription: &mut kurrentdb::Subscription,
        sender: &Sender,
        backoff: &mut Backoff,
    ) -> End {
        loop {
            let event = match subscription.next_subscription_event().await {
                Ok(event) => event,
                Err(error) => return End::Failed(error),
            };
            let message = match event {
                SubscriptionEvent::Confirmed(id) => {
                    tracing::debug!(subscription = %id, "subscribed to $all");
                    backoff.reset();
                    None
                }
                SubscriptionEvent::EventAppeared(resolved) => {
                    backoff.reset();
                    convert::recorded_event(resolved).and_then(|event| self.on_event(event))
                }
                SubscriptionEvent::Checkpoint(position) => {
                    backoff.reset();
                    self.on_checkpoint(convert::position(position))
                }
                SubscriptionEvent::CaughtUp(_) => (!std::mem::replace(&mut self.caught_up, true))
                    .then_some(SubscriptionMessage::CaughtUp),
                SubscriptionEvent::FellBehind(_)
                | SubscriptionEvent::FirstStreamPosition(_)
                | SubscriptionEvent::LastStreamPosition(_)
                | SubscriptionEvent::LastAllPosition(_) => None,
            };
            if let Some(message) = message {
                if sender.send(Ok(message)).await.is_err() {
                    return End::Closed;
                }
            }
        }
    }

    fn on_event(&mut self, event: crate::store::RecordedEvent) -> Option<SubscriptionMessage> {
        if self.last.is_some_and(|last| event.position <= last) {
            tracing::debug!(position = %event.position, "skipping an event seen before");
            return None;
        }
        self.last = Some(event.position);
        if self.filter.matches(&event) {
            self.unreported = 0;
            return Some(SubscriptionMessage::Event(event));
        }
        if self.server_filter.is_some() {
            // The server reports checkpoints.
            return None;
        }
        self.unreported += 1;
        if self.unreported >= self.filter.checkpoint_interval.max(1) {
            return self.on_checkpoint(event.position);
        }
        None
    }

    fn on_checkpoint(&mut self, position: Position) -> Option<SubscriptionMessage> {
        self.unreported = 0;
        if self.last.is_none_or(|last| position > last) {
            self.last = Some(position);
        }
        if self.last_checkpoint.is_some_and(|last| position <= last) {
            return None;
        }
        self.last_checkpoint = Some(position);
        Some(SubscriptionMessage::Checkpoint(position))
    }
}
