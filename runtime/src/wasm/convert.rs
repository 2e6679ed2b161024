//! Between the runtime's types and the WIT types. Events go to the guest
//! as [`GuestEvent`]s that borrow from the runtime's events, so a batch is
//! copied once, straight into the guest's memory; what comes back is
//! lifted into the generated types and turned into [`StageOutcome`]s and
//! [`SinkOutcome`]s.

use wasmtime::component::{ComponentType, Lower};

use super::bindings::types;
use super::GuestError;
use crate::store::RecordedEvent;

/// `kurrent:connector/types.event`, borrowed: the same record as the
/// generated `types::Event` (names and order are checked against the
/// component's export when a batch is passed), without owning copies of
/// the strings and payloads.
#[derive(ComponentType, Lower)]
#[component(record)]
pub(super) struct GuestEvent<'a> {
    id: &'a str,
    #[component(name = "stream")]
    stream: &'a str,
    revision: u64,
    position: u64,
    #[component(name = "event-type")]
    event_type: &'a str,
    #[component(name = "content-type")]
    content_type: &'a str,
    #[component(name = "created-ms")]
    created_ms: u64,
    data: &'a [u8],
    metadata: &'a [u8],
}

/// The length of a hyphenated UUID.
const ID_LEN: usize = uuid::fmt::Hyphenated::LENGTH;

/// The ids of a batch as text, written once into one string the batch's
/// [`GuestEvent`]s borrow from.
pub(super) struct BatchIds(String);

impl BatchIds {
    pub fn new(events: &[RecordedEvent]) -> Self {
        let mut ids = String::with_capacity(events.len() * ID_LEN);
        let mut buffer = [0u8; ID_LEN];
        for e in events {
            ids.push_str(e.id.hyphenated().encode_lower(&mut buffer));
        }
        Self(ids)
    }

    /// `events` (the batch these ids were made from) as the guest sees them.
    pub fn events<'a>(&'a self, events: &'a [RecordedEvent]) -> Vec<GuestEvent<'a>> {
        events
            .iter()
            .enumerate()
            .map(|(i, e)| GuestEvent {
                id: self.0.get(i * ID_LEN..(i + 1) * ID_LEN).unwrap_or_default(),
                stream: &e.stream,
                revision: e.revision,
                position: e.position.commit,
                event_type: &e.event_type,
                content_type: e.content_type.mime(),
                created_ms: u64::try_from(e.created.timestamp_millis()).unwrap_or(0),
                data: &e.data,
                metadata: &e.metadata,
            })
            .collect()
    }
}

/// A record a transform emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmittedRecord {
    pub data: Vec<u8>,
    pub event_type: Option<String>,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// What a transform made of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    Drop,
    Emit(Vec<EmittedRecord>),
    Fail(GuestError),
}

/// What a sink made of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkOutcome {
    Delivered,
    Failed(GuestError),
}

pub(super) fn outcome(o: types::Outcome) -> StageOutcome {
    match o {
        types::Outcome::Drop => StageOutcome::Drop,
        types::Outcome::Emit(records) => StageOutcome::Emit(
            records
                .into_iter()
                .map(|r| EmittedRecord {
                    data: r.data,
                    event_type: r.event_type,
                    content_type: r.content_type,
                    headers: r.headers,
                })
                .collect(),
        ),
        types::Outcome::Fail(e) => StageOutcome::Fail(e.into()),
    }
}

pub(super) fn delivery(d: types::Delivery) -> SinkOutcome {
    match d {
        types::Delivery::Delivered => SinkOutcome::Delivered,
        types::Delivery::Failed(e) => SinkOutcome::Failed(e.into()),
    }
}

/// Bytes of data a transform's answer carries.
pub(super) fn output_bytes(outcomes: &[types::Outcome]) -> usize {
    outcomes
        .iter()
        .map(|o| match o {
            types::Outcome::Emit(records) => records
                .iter()
                .map(|r| {
                    r.data.len()
                        + r.headers
                            .iter()
                            .map(|(k, v)| k.len() + v.len())
                            .sum::<usize>()
                })
                .sum(),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::store::{ContentType, Position};

    fn event(n: u64, content_type: ContentType) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::new_v4(),
            stream: format!("orders-é{n}"),
            revision: n,
            position: Position::new(10 + n, 10 + n),
            event_type: "OrderPlaced".into(),
            content_type,
            created: Utc::now(),
            data: vec![n as u8; 3].into(),
            metadata: b"{}".to_vec().into(),
        }
    }

    #[test]
    fn each_guest_event_borrows_its_own_fields_and_id() {
        let events = vec![
            event(0, ContentType::Json),
            event(1, ContentType::Binary),
            event(2, ContentType::Json),
        ];
        let ids = BatchIds::new(&events);
        let guest = ids.events(&events);
        assert_eq!(guest.len(), 3);
        for (g, e) in guest.iter().zip(&events) {
            assert_eq!(g.id, e.id.to_string());
            assert_eq!(g.stream, e.stream);
            assert_eq!(g.revision, e.revision);
            assert_eq!(g.position, e.position.commit);
            assert_eq!(g.event_type, e.event_type);
            assert_eq!(g.content_type, e.content_type.mime());
            assert_eq!(g.data, &e.data[..]);
            assert_eq!(g.metadata, b"{}");
        }
    }
}
