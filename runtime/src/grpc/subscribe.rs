//! Subscriptions to `$all` and to a stream. Like the documented server: a
//! confirmation first, events (and, for filtered `$all` subscriptions,
//! checkpoints), `caught_up` once live, and no normal end: the response
//! stream only ends with an error or when the client goes away.

use chrono::Utc;
use regex::Regex;
use tonic::Status;
use uuid::Uuid;

use super::convert::{read_event, timestamp};
use super::proto::streams::{read_resp, ReadResp};
use super::read::{fail, send, Sender};
use super::request::StreamFrom;
use super::status;
use crate::store::{
    Direction, EventStore, Matcher, Position, StreamStart, SubscribeFrom, Subscription,
    SubscriptionFilter, SubscriptionMessage,
};

/// Subscribes to `$all` after `from`; checkpoints are sent only for
/// filtered subscriptions, as the server does.
pub async fn all(
    store: &dyn EventStore,
    tx: &Sender,
    from: SubscribeFrom,
    filter: Option<SubscriptionFilter>,
    structured_ids: bool,
) {
    let send_checkpoints = filter.is_some();
    let filter = filter.unwrap_or_else(SubscriptionFilter::everything);
    let Some(mut subscription) = start(store, tx, from, filter).await else {
        return;
    };
    let mut last = match from {
        SubscribeFrom::After(position) => Some(position),
        _ => None,
    };
    loop {
        let Some(message) = next(&mut subscription, tx).await else {
            return;
        };
        let sent = match message {
            SubscriptionMessage::Event(event) => {
                last = Some(event.position);
                send(tx, read_event(&event, structured_ids)).await
            }
            SubscriptionMessage::Checkpoint(position) => {
                last = last.max(Some(position));
                !send_checkpoints || send(tx, checkpoint(position)).await
            }
            SubscriptionMessage::CaughtUp => {
                let position = match last {
                    Some(position) => Some(position),
                    None => store.head_position().await.ok().flatten(),
                };
                send(tx, caught_up(None, position)).await
            }
        };
        if !sent {
            return;
        }
    }
}

/// Subscribes to one stream: `$all` filtered to exactly that stream name,
/// skipping revisions up to the starting one.
pub async fn stream(
    store: &dyn EventStore,
    tx: &Sender,
    stream: &str,
    from: StreamFrom,
    structured_ids: bool,
) {
    let (from_position, mut last_revision) = match from {
        StreamFrom::Start => (SubscribeFrom::Start, None),
        StreamFrom::End => (SubscribeFrom::End, None),
        StreamFrom::After(revision) => {
            // Start right after the event when it still exists; otherwise
            // scan from the start and skip what precedes it.
            let found = store
                .read_stream(
                    stream,
                    Direction::Forwards,
                    StreamStart::Revision(revision),
                    1,
                )
                .await;
            match found {
                Ok(events) => match events.first() {
                    Some(event) if event.revision == revision => {
                        (SubscribeFrom::After(event.position), Some(revision))
                    }
                    _ => (SubscribeFrom::Start, Some(revision)),
                },
                Err(crate::store::StoreError::StreamNotFound(_)) => {
                    (SubscribeFrom::Start, Some(revision))
                }
                Err(e) => return fail(tx, status::from_store(e)).await,
            }
        }
    };
    let exact = match Regex::new(&format!("^{}$", regex::escape(stream))) {
        Ok(regex) => regex,
        Err(e) => return fail(tx, Status::invalid_argument(format!("stream name: {e}"))).await,
    };
    let filter = SubscriptionFilter {
        stream: Some(Matcher::Regex(exact)),
        event_type: None,
        include_system_events: true,
        checkpoint_interval: u32::MAX,
    };
    let Some(mut subscription) = start(store, tx, from_position, filter).await else {
        return;
    };
    let skip_through = last_revision;
    loop {
        let Some(message) = next(&mut subscription, tx).await else {
            return;
        };
        let sent = match message {
            SubscriptionMessage::Event(event) => {
                if skip_through.is_some_and(|r| event.revision <= r) {
                    continue;
                }
                last_revision = Some(event.revision);
                send(tx, read_event(&event, structured_ids)).await
            }
            SubscriptionMessage::Checkpoint(_) => true,
            SubscriptionMessage::CaughtUp => send(tx, caught_up(last_revision, None)).await,
        };
        if !sent {
            return;
        }
    }
}

/// Subscribes to the store, then confirms to the client; `None` when either
/// failed (the client was told, or is gone).
async fn start(
    store: &dyn EventStore,
    tx: &Sender,
    from: SubscribeFrom,
    filter: SubscriptionFilter,
) -> Option<Subscription> {
    match store.subscribe_all(from, filter).await {
        Ok(subscription) => send(tx, confirmation()).await.then_some(subscription),
        Err(e) => {
            fail(tx, status::from_store(e)).await;
            None
        }
    }
}

/// The store subscription's next message; `None` once it failed or ended
/// (the client was told).
async fn next(subscription: &mut Subscription, tx: &Sender) -> Option<SubscriptionMessage> {
    match subscription.next().await {
        Some(Ok(message)) => Some(message),
        Some(Err(e)) => {
            fail(tx, status::from_store(e)).await;
            None
        }
        None => {
            fail(tx, ended()).await;
            None
        }
    }
}

fn ended() -> Status {
    Status::unavailable("the subscription ended on the server; subscribe again")
}

fn confirmation() -> ReadResp {
    ReadResp {
        content: Some(read_resp::Content::Confirmation(
            read_resp::SubscriptionConfirmation {
                subscription_id: Uuid::new_v4().to_string(),
            },
        )),
    }
}

fn checkpoint(position: Position) -> ReadResp {
    ReadResp {
        content: Some(read_resp::Content::Checkpoint(read_resp::Checkpoint {
            commit_position: position.commit,
            prepare_position: position.prepare,
            timestamp: Some(timestamp(Utc::now())),
        })),
    }
}

fn caught_up(stream_revision: Option<u64>, position: Option<Position>) -> ReadResp {
    ReadResp {
        content: Some(read_resp::Content::CaughtUp(read_resp::CaughtUp {
            timestamp: Some(timestamp(Utc::now())),
            stream_revision: stream_revision.and_then(|r| i64::try_from(r).ok()),
            position: position.map(|p| read_resp::Position {
                commit_position: p.commit,
                prepare_position: p.prepare,
            }),
        })),
    }
}
