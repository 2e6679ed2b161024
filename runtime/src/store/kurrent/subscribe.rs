//! `$all` subscriptions that survive lost connections.
//!
//! A task per subscription runs the server's subscription, one run at a
//! time from a [`Source`] (our own `Streams.Read` call, or the official
//! client's subscription where our channel cannot go), and forwards its
//! messages. It remembers the last position it saw (of an event or a
//! checkpoint); when a run fails with a transient error (connection lost,
//! server restarting, a node no longer the leader) it waits with
//! exponential backoff and subscribes again *after* that position, so
//! nothing is skipped, and drops any event at or before it, so nothing is
//! delivered twice. Other errors (access denied, a filter the server
//! refuses) are sent to the [`Subscription`] once, which then ends.
//! Checkpoints never go backwards; `CaughtUp` is reported once. The task
//! stops as soon as the [`Subscription`] is dropped.
//!
//! When the server cannot filter everything (see
//! [`convert::server_filter`]), the rest is filtered here, with a
//! checkpoint every `checkpoint_interval` events considered.

use std::time::Duration;

use tokio::sync::mpsc;

use super::convert;
use super::decode::Received;
use super::source::{Failure, Run, Source};
use crate::backoff::Backoff;
use crate::store::StoreError;
use crate::store::{
    Position, RecordedEvent, Subscription, SubscriptionFilter, SubscriptionMessage,
};

/// Messages buffered between the task and the [`Subscription`].
const CHANNEL_CAPACITY: usize = 256;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

type Sender = mpsc::Sender<Result<SubscriptionMessage, StoreError>>;

/// Starts a subscription after `start` (`None`: from the start of `$all`).
pub(super) fn spawn(
    source: Source,
    start: Option<Position>,
    filter: SubscriptionFilter,
) -> Subscription {
    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    let task = Task {
        server_filters: convert::server_filter(&filter).is_some(),
        filter,
        source,
        last: start,
        last_checkpoint: None,
        caught_up: false,
        unreported: 0,
    };
    tokio::spawn(task.run(sender));
    Subscription::new(receiver)
}

struct Task {
    source: Source,
    filter: SubscriptionFilter,
    /// Whether the server filters (and so sends checkpoints).
    server_filters: bool,
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

/// Why one run ended.
enum End {
    /// The [`Subscription`] was dropped.
    Closed,
    Failed(Failure),
}

impl Task {
    async fn run(mut self, sender: Sender) {
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        let mut attempt = 0u32;
        loop {
            tracing::debug!(after = ?self.last, attempt, "subscribing to $all");
            let server_filter = convert::server_filter(&self.filter);
            let opened = tokio::select! {
                () = sender.closed() => return,
                opened = self.source.open(self.last, server_filter.as_ref()) => opened,
            };
            let (run, end) = match opened {
                Ok(mut run) => {
                    let end = tokio::select! {
                        () = sender.closed() => End::Closed,
                        end = self.forward(&mut run, &sender, &mut backoff) => end,
                    };
                    (Some(run), end)
                }
                Err(failure) => (None, End::Failed(failure)),
            };
            let failure = match end {
                End::Closed => return,
                End::Failed(failure) => failure,
            };
            if !failure.transient {
                tracing::warn!(error = %failure.error, "the $all subscription failed");
                // The subscription may be gone already; nothing else to do.
                let _ = sender.send(Err(failure.error)).await;
                return;
            }
            self.source.recover(run.as_ref(), &failure);
            attempt += 1;
            let delay = backoff.next_wait();
            tracing::warn!(
                error = %failure.error,
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

    /// Forwards the messages of one run until it fails or the
    /// [`Subscription`] is dropped.
    async fn forward(&mut self, run: &mut Run, sender: &Sender, backoff: &mut Backoff) -> End {
        loop {
            let received = match run.next().await {
                Ok(received) => received,
                Err(failure) => return End::Failed(failure),
            };
            let message = match received {
                Received::Confirmed(id) => {
                    tracing::debug!(subscription = %id, "subscribed to $all");
                    backoff.reset();
                    None
                }
                Received::Event(event) => {
                    backoff.reset();
                    self.on_event(event)
                }
                Received::Checkpoint(position) => {
                    backoff.reset();
                    self.on_checkpoint(position)
                }
                Received::CaughtUp => (!std::mem::replace(&mut self.caught_up, true))
                    .then_some(SubscriptionMessage::CaughtUp),
                Received::Nothing => None,
            };
            if let Some(message) = message {
                if sender.send(Ok(message)).await.is_err() {
                    return End::Closed;
                }
            }
        }
    }

    fn on_event(&mut self, event: RecordedEvent) -> Option<SubscriptionMessage> {
        if self.last.is_some_and(|last| event.position <= last) {
            tracing::debug!(position = %event.position, "skipping an event seen before");
            return None;
        }
        self.last = Some(event.position);
        if self.filter.matches(&event) {
            self.unreported = 0;
            return Some(SubscriptionMessage::Event(event));
        }
        if self.server_filters {
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
