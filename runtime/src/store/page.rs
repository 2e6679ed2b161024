//! Reads bounded in bytes as well as in events: a page stops once its
//! events add up to a byte budget, so one read of many large events never
//! holds more than about the budget (plus one event) in memory. Backends
//! that cannot stop a read midway are read in small chunks instead
//! ([`stream_page_in_chunks`], [`all_page_in_chunks`]).

use super::{AllStart, Direction, EventStore, RecordedEvent, StoreError, StreamStart};

/// Events a chunked page read asks for at a time: a page holds at most the
/// budget plus this many events.
const CHUNK: usize = 32;

/// What one event costs a page: its payloads, names and a fixed overhead
/// for the other fields.
pub fn event_bytes(event: &RecordedEvent) -> usize {
    const FIXED: usize = 128;
    FIXED + event.data.len() + event.metadata.len() + event.event_type.len() + event.stream.len()
}

/// Events of one read, in read order.
#[derive(Debug, Default)]
pub struct Page {
    pub events: Vec<RecordedEvent>,
    /// The page stopped at its byte budget: more events may follow even
    /// though it holds fewer than asked for.
    pub cut_short: bool,
}

impl Page {
    /// Takes `events` in order while they fit `max_bytes`; the first event
    /// is always taken, so a page makes progress whatever its budget.
    pub fn within<E>(
        events: impl IntoIterator<Item = Result<RecordedEvent, E>>,
        max_bytes: usize,
    ) -> Result<Page, E> {
        let mut page = Page::default();
        let mut bytes = 0usize;
        for event in events {
            let event = event?;
            bytes = bytes.saturating_add(event_bytes(&event));
            if bytes > max_bytes && !page.events.is_empty() {
                page.cut_short = true;
                break;
            }
            page.events.push(event);
        }
        Ok(page)
    }
}

/// Adds `events` to `page` within `max` events and `max_bytes`; true once
/// the page is complete (full, or cut short).
fn fill(
    page: &mut Page,
    bytes: &mut usize,
    events: Vec<RecordedEvent>,
    max: usize,
    max_bytes: usize,
) -> bool {
    for event in events {
        *bytes = bytes.saturating_add(event_bytes(&event));
        if *bytes > max_bytes && !page.events.is_empty() {
            page.cut_short = true;
            return true;
        }
        page.events.push(event);
        if page.events.len() == max {
            return true;
        }
    }
    false
}

/// A stream page read [`CHUNK`] events at a time with
/// [`EventStore::read_stream`].
pub async fn stream_page_in_chunks<S: EventStore + ?Sized>(
    store: &S,
    stream: &str,
    direction: Direction,
    mut from: StreamStart,
    max: usize,
    max_bytes: usize,
) -> Result<Page, StoreError> {
    let (mut page, mut bytes) = (Page::default(), 0);
    while page.events.len() < max {
        let want = (max - page.events.len()).min(CHUNK);
        let chunk = store.read_stream(stream, direction, from, want).await?;
        let (read, last) = (chunk.len(), chunk.last().map(|e| e.revision));
        if fill(&mut page, &mut bytes, chunk, max, max_bytes) || read < want {
            break;
        }
        let Some(last) = last else { break };
        from = match direction {
            Direction::Forwards => StreamStart::Revision(last.saturating_add(1)),
            Direction::Backwards => match last.checked_sub(1) {
                Some(previous) => StreamStart::Revision(previous),
                None => break,
            },
        };
    }
    Ok(page)
}

/// A `$all` page read [`CHUNK`] events at a time with
/// [`EventStore::read_all`]. Each chunk after the first starts at the last
/// event read (inclusive, so it works whatever the backend's positions look
/// like) and skips it.
pub async fn all_page_in_chunks<S: EventStore + ?Sized>(
    store: &S,
    direction: Direction,
    mut from: AllStart,
    max: usize,
    max_bytes: usize,
) -> Result<Page, StoreError> {
    let (mut page, mut bytes) = (Page::default(), 0);
    let mut already_read = None;
    while page.events.len() < max {
        let want = (max - page.events.len()).min(CHUNK) + usize::from(already_read.is_some());
        let mut chunk = store.read_all(direction, from, want).await?;
        let read = chunk.len();
        let last = chunk.last().map(|e| e.position);
        chunk.retain(|e| Some(e.position) != already_read);
        if fill(&mut page, &mut bytes, chunk, max, max_bytes) || read < want {
            break;
        }
        let Some(last) = last else { break };
        from = AllStart::Position(last);
        already_read = Some(last);
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::store::{ContentType, Position};

    fn event(bytes: usize) -> Result<RecordedEvent, ()> {
        Ok(RecordedEvent {
            id: Uuid::nil(),
            stream: String::new(),
            revision: 0,
            position: Position::new(1, 1),
            event_type: String::new(),
            content_type: ContentType::Binary,
            created: Utc::now(),
            data: vec![0; bytes].into(),
            metadata: Default::default(),
        })
    }

    #[test]
    fn a_page_stops_at_its_budget_but_always_holds_one_event() {
        let page = Page::within((0..10).map(|_| event(1000)), 3000).expect("page");
        assert_eq!(page.events.len(), 2);
        assert!(page.cut_short);
        let page = Page::within((0..3).map(|_| event(10_000)), 100).expect("page");
        assert_eq!(page.events.len(), 1);
        assert!(page.cut_short);
        let page = Page::within((0..3).map(|_| event(10)), 10_000).expect("page");
        assert_eq!(page.events.len(), 3);
        assert!(!page.cut_short);
    }
}
