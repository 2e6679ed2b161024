//! Reads with a count, streamed back in pages bounded in events and bytes:
//! a stream (or a metadata stream) or `$all`, optionally filtered.

use super::convert::read_event;
use super::metadata;
use super::replies::{fail, send, stream_not_found, Sender};
use super::status;
use crate::store::{
    AllStart, Direction, EventStore, RecordedEvent, StoreError, StreamStart, SubscriptionFilter,
};

/// Events fetched from the store at a time.
const PAGE: usize = 512;
/// Bytes fetched from the store at a time: a page of large events stops
/// early, so a read holds about this much, whatever its count.
pub const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Sends up to `count` events of `stream` from `from` in `direction`.
pub async fn stream(
    store: &dyn EventStore,
    tx: &Sender,
    stream: &str,
    direction: Direction,
    mut from: StreamStart,
    count: u64,
    structured_ids: bool,
) {
    if let Some(target) = stream.strip_prefix("$$") {
        return metadata::read(store, tx, target, direction, from, structured_ids).await;
    }
    let mut remaining = count;
    let mut first_page = true;
    while remaining > 0 {
        let mut more = false;
        let page = usize::try_from(remaining).unwrap_or(PAGE).min(PAGE);
        let events = match store
            .read_stream_page(stream, direction, from, page, PAGE_BYTES)
            .await
        {
            Ok(read) if read.cut_short => {
                // Read on from after the last event, whatever the count.
                more = true;
                read.events
            }
            Ok(read) => read.events,
            Err(StoreError::StreamNotFound(_)) => {
                if first_page {
                    send(tx, stream_not_found(stream)).await;
                }
                return;
            }
            Err(e) => return fail(tx, status::from_store(e)).await,
        };
        first_page = false;
        let read = events.len();
        let Some(last) = events.last().map(|e| e.revision) else {
            return;
        };
        if !send_all(tx, events, structured_ids).await {
            return;
        }
        remaining = remaining.saturating_sub(read as u64);
        if read < page && !more {
            return;
        }
        from = match direction {
            Direction::Forwards => StreamStart::Revision(last.saturating_add(1)),
            Direction::Backwards => match last.checked_sub(1) {
                Some(previous) => StreamStart::Revision(previous),
                None => return,
            },
        };
    }
}

/// Sends up to `count` events of `$all` that pass `filter`, from `from` in
/// `direction`.
pub async fn all(
    store: &dyn EventStore,
    tx: &Sender,
    direction: Direction,
    mut from: AllStart,
    count: u64,
    filter: Option<&SubscriptionFilter>,
    structured_ids: bool,
) {
    let mut remaining = count;
    // Each page after the first starts at the last event sent (inclusive, so
    // it works whatever the backend's positions look like) and skips it.
    let mut already_sent = None;
    while remaining > 0 {
        let (events, full_page) = match store.read_all_page(direction, from, PAGE, PAGE_BYTES).await
        {
            Ok(read) => {
                let full = read.cut_short || read.events.len() == PAGE;
                (read.events, full)
            }
            Err(e) => return fail(tx, status::from_store(e)).await,
        };
        let mut last = None;
        for event in events {
            if Some(event.position) == already_sent {
                continue;
            }
            last = Some(event.position);
            if filter.is_some_and(|f| !f.matches(&event)) {
                continue;
            }
            if !send(tx, read_event(event, structured_ids)).await {
                return;
            }
            remaining -= 1;
            if remaining == 0 {
                return;
            }
        }
        match last {
            Some(position) if full_page => {
                from = AllStart::Position(position);
                already_sent = Some(position);
            }
            _ => return,
        }
    }
}

/// Sends every event; `false` once the client is gone.
pub async fn send_all(tx: &Sender, events: Vec<RecordedEvent>, structured_ids: bool) -> bool {
    for event in events {
        if !send(tx, read_event(event, structured_ids)).await {
            return false;
        }
    }
    true
}
