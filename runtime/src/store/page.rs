//! Reads bounded in bytes as well as in events: a page stops once its
//! events add up to a byte budget, so one read of many large events never
//! holds more than about the budget (plus one event) in memory.

use super::RecordedEvent;

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
            data: vec![0; bytes],
            metadata: Vec::new(),
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
