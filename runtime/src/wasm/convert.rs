//! Between the runtime's types and the generated WIT types.

use super::bindings::types;
use super::GuestError;
use crate::store::RecordedEvent;

pub(super) fn event(e: &RecordedEvent) -> types::Event {
    types::Event {
        id: e.id.to_string(),
        stream: e.stream.clone(),
        revision: e.revision,
        position: e.position.commit,
        event_type: e.event_type.clone(),
        content_type: e.content_type.mime().to_owned(),
        created_ms: u64::try_from(e.created.timestamp_millis()).unwrap_or(0),
        data: e.data.to_vec(),
        metadata: e.metadata.to_vec(),
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
