//! Subscriptions to `$all` and to a stream. Like the documented server: a
//! confirmation first, events (and, for filtered `$all` subscriptions,
//! checkpoints), `caught_up` once live, and no normal end: the response
//! stream only ends with an error or when the client goes away.

use chrono::Utc;
use tonic::Status;
use uuid::Uuid;

use super::convert::{read_event, timestamp};
use super::proto::streams::{read_resp, ReadResp};
use super::read::{self, send_all};
use super::replies::{fail, send, Sender};
use super::request::StreamFrom;
use super::status;
use crate::store::{
    Direction, EventStore, Matcher, Pattern, Position, StoreError, StreamStart, SubscribeFrom,
    Subscription, SubscriptionFilter, SubscriptionMessage,
};

/// Events read at a time while a stream subscription catches up.
const CATCH_UP_PAGE: usize = 512;

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
                send(tx, read_event(event, structured_ids)).await
            }
            // `caught_up` names the last event sent (or the start), as the
            // server does, not the last checkpoint.
            SubscriptionMessage::Checkpoint(position) => {
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

/// Subscribes to one stream. The catch-up reads the stream itself (its
/// index, not the whole log); the live part is `$all` filtered to exactly
/// that stream name from the head taken before the catch-up began, with
/// revisions already sent skipped.
pub async fn stream(
    store: &dyn EventStore,
    tx: &Sender,
    stream: &str,
    from: StreamFrom,
    structured_ids: bool,
) {
    let exact = match Pattern::new(&format!("^{}$", regex::escape(stream))) {
        Ok(regex) => regex,
        Err(e) => return fail(tx, Status::invalid_argument(format!("stream name: {e}"))).await,
    };
    let filter = SubscriptionFilter {
        stream: Some(Matcher::Regex(exact)),
        event_type: None,
        include_system_events: true,
        checkpoint_interval: u32::MAX,
    };
    let (catch_up_from, mut last_revision) = match from {
        StreamFrom::Start => (Some(0), None),
        StreamFrom::After(revision) => (Some(revision.saturating_add(1)), Some(revision)),
        StreamFrom::End => (None, None),
    };
    let live_from = match catch_up_from {
        None => SubscribeFrom::End,
        Some(_) => match store.head_position().await {
            Ok(Some(head)) => SubscribeFrom::After(head),
            Ok(None) => SubscribeFrom::Start,
            Err(e) => return fail(tx, status::from_store(e)).await,
        },
    };
    // Subscribed before the catch-up, so nothing appended meanwhile is missed.
    let Some(mut subscription) = start(store, tx, live_from, filter).await else {
        return;
    };
    if let Some(first) = catch_up_from {
        match catch_up(store, tx, stream, first, structured_ids).await {
            Some(Some(revision)) => last_revision = Some(revision),
            Some(None) => {}
            None => return,
        }
    }
    loop {
        let Some(message) = next(&mut subscription, tx).await else {
            return;
        };
        let sent = match message {
            SubscriptionMessage::Event(event) => {
                if last_revision.is_some_and(|r| event.revision <= r) {
                    continue;
                }
                last_revision = Some(event.revision);
                send(tx, read_event(event, structured_ids)).await
            }
            SubscriptionMessage::Checkpoint(_) => true,
            SubscriptionMessage::CaughtUp => send(tx, caught_up(last_revision, None)).await,
        };
        if !sent {
            return;
        }
    }
}

/// Sends the stream's events from revision `first` on, page by page.
/// Returns the last revision sent (`Some(None)` when there was none), or
/// `None` when the subscription must end (the client was told, or is gone).
async fn catch_up(
    store: &dyn EventStore,
    tx: &Sender,
    stream: &str,
    first: u64,
    structured_ids: bool,
) -> Option<Option<u64>> {
    let mut next = first;
    let mut last = None;
    loop {
        let (events, full_page) = match store
            .read_stream_page(
                stream,
                Direction::Forwards,
                StreamStart::Revision(next),
                CATCH_UP_PAGE,
                read::PAGE_BYTES,
            )
            .await
        {
            Ok(page) => {
                let full = page.cut_short || page.events.len() == CATCH_UP_PAGE;
                (page.events, full)
            }
            Err(StoreError::StreamNotFound(_)) => return Some(last),
            Err(e) => {
                fail(tx, status::from_store(e)).await;
                return None;
            }
        };
        let Some(page_last) = events.last().map(|e| e.revision) else {
            return Some(last);
        };
        if !send_all(tx, events, structured_ids).await {
            return None;
        }
        last = Some(page_last);
        if !full_page {
            return Some(last);
        }
        next = page_last + 1;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::mpsc;

    use super::*;
    use crate::store::embedded::SqliteStore;
    use crate::store::{ExpectedRevision, NewEvent};

    async fn next_content(rx: &mut mpsc::Receiver<Result<ReadResp, Status>>) -> read_resp::Content {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("a message in time")
            .expect("the subscription goes on")
            .expect("no error");
        message.content.expect("content")
    }

    /// As the server does (and the Python client's own tests expect): when
    /// nothing after the start passes the filter, `caught_up` names the
    /// start, even after checkpoints went further.
    #[tokio::test]
    async fn caught_up_names_the_last_event_sent_not_the_last_checkpoint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteStore::open(&dir.path().join("events.db")).expect("store"));
        let first = store
            .append(
                "orders-1",
                ExpectedRevision::Any,
                vec![NewEvent::json("OrderPlaced", &serde_json::json!({}))],
            )
            .await
            .expect("append")
            .position;
        store
            .append(
                "orders-1",
                ExpectedRevision::Any,
                (0..3)
                    .map(|_| NewEvent::json("OrderPaid", &serde_json::json!({})))
                    .collect(),
            )
            .await
            .expect("append");
        let filter = SubscriptionFilter {
            stream: None,
            event_type: Some(Matcher::Prefixes(vec!["NothingHasThisType".into()])),
            include_system_events: true,
            checkpoint_interval: 1,
        };
        let (tx, mut rx) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            all(
                store.as_ref(),
                &tx,
                SubscribeFrom::After(first),
                Some(filter),
                false,
            )
            .await
        });
        assert!(matches!(
            next_content(&mut rx).await,
            read_resp::Content::Confirmation(_)
        ));
        let mut checkpoints = Vec::new();
        let caught_up = loop {
            match next_content(&mut rx).await {
                read_resp::Content::Checkpoint(c) => checkpoints.push(c.commit_position),
                read_resp::Content::CaughtUp(caught_up) => break caught_up,
                other => panic!("only checkpoints before caught up, got {other:?}"),
            }
        };
        assert!(
            checkpoints.iter().any(|&c| c > first.commit),
            "checkpoints went past the start: {checkpoints:?}"
        );
        let position = caught_up.position.expect("a position");
        assert_eq!(position.commit_position, first.commit, "{caught_up:?}");
        task.abort();
    }
}
