//! Conversions between protocol messages and the store's types: event ids,
//! stream names, expected revisions, positions and recorded events.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tonic::Status;
use uuid::Uuid;

use super::proto::streams::read_resp::read_event::recorded_event::MetadataEntry;
use super::proto::streams::read_resp::{self, read_event};
use super::proto::streams::{append_req, delete_req, tombstone_req, ReadResp};
use super::proto::{self, StreamIdentifier};
use crate::store::{ContentType, ExpectedRevision, RecordedEvent};

/// The metadata key holding the event type.
pub const TYPE_KEY: &str = "type";
/// The metadata key holding the payload's MIME type.
pub const CONTENT_TYPE_KEY: &str = "content-type";
/// The metadata key holding the creation time in 100 ns ticks since the
/// Unix epoch.
pub const CREATED_KEY: &str = "created";

/// An event id from its protocol form (two 64-bit halves or a string).
pub fn uuid_from_proto(id: Option<proto::Uuid>) -> Result<Uuid, Status> {
    match id.and_then(|id| id.value) {
        Some(proto::event_store::client::uuid::Value::Structured(s)) => Ok(Uuid::from_u64_pair(
            s.most_significant_bits as u64,
            s.least_significant_bits as u64,
        )),
        Some(proto::event_store::client::uuid::Value::String(s)) => Uuid::parse_str(&s)
            .map_err(|e| Status::invalid_argument(format!("event id `{s}` is not a UUID: {e}"))),
        None => Err(Status::invalid_argument("an event has no id")),
    }
}

/// An event id in the form the reader asked for.
pub fn uuid_to_proto(id: Uuid, structured: bool) -> proto::Uuid {
    use proto::event_store::client::uuid::{Structured, Value};
    let value = if structured {
        let (most, least) = id.as_u64_pair();
        Value::Structured(Structured {
            most_significant_bits: most as i64,
            least_significant_bits: least as i64,
        })
    } else {
        Value::String(id.hyphenated().to_string())
    };
    proto::Uuid { value: Some(value) }
}

/// The stream name of a request; it must be present, non-empty UTF-8.
pub fn stream_name(identifier: Option<StreamIdentifier>) -> Result<String, Status> {
    let Some(identifier) = identifier else {
        return Err(Status::invalid_argument("the request names no stream"));
    };
    let name = String::from_utf8(identifier.stream_name)
        .map_err(|_| Status::invalid_argument("the stream name is not UTF-8"))?;
    if name.is_empty() {
        return Err(Status::invalid_argument("the stream name is empty"));
    }
    Ok(name)
}

pub fn stream_identifier(name: &str) -> StreamIdentifier {
    StreamIdentifier {
        stream_name: name.as_bytes().to_vec(),
    }
}

/// 100 ns ticks since the Unix epoch, as .NET counts them.
pub fn ticks_since_epoch(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros().saturating_mul(10)
}

pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// Append, Delete and Tombstone each have their own (identical) oneof for
/// the expected revision; a missing one means "any", as on the server.
macro_rules! expected_revision_from {
    ($oneof:ty) => {
        impl From<Option<$oneof>> for Expected {
            fn from(value: Option<$oneof>) -> Self {
                type E = $oneof;
                Expected(match value {
                    Some(E::Revision(revision)) => ExpectedRevision::Exact(revision),
                    Some(E::NoStream(_)) => ExpectedRevision::NoStream,
                    Some(E::StreamExists(_)) => ExpectedRevision::StreamExists,
                    Some(E::Any(_)) | None => ExpectedRevision::Any,
                })
            }
        }
    };
}

/// An expected revision read from a request.
pub struct Expected(pub ExpectedRevision);

expected_revision_from!(append_req::options::ExpectedStreamRevision);
expected_revision_from!(delete_req::options::ExpectedStreamRevision);
expected_revision_from!(tombstone_req::options::ExpectedStreamRevision);

/// A recorded event as a `ReadResp` message, taking the event so that its
/// payloads, type and stream name move into the message instead of being
/// copied; the metadata keys are static.
pub fn read_event(event: RecordedEvent, structured_ids: bool) -> ReadResp {
    let entry = |key: &'static str, value: Bytes| MetadataEntry {
        key: Bytes::from_static(key.as_bytes()),
        value,
    };
    let metadata = vec![
        entry(TYPE_KEY, Bytes::from(event.event_type.into_bytes())),
        entry(
            CONTENT_TYPE_KEY,
            Bytes::from_static(event.content_type.mime().as_bytes()),
        ),
        entry(
            CREATED_KEY,
            Bytes::from(ticks_since_epoch(event.created).to_string().into_bytes()),
        ),
    ];
    let recorded = read_event::RecordedEvent {
        id: Some(uuid_to_proto(event.id, structured_ids)),
        stream_identifier: Some(StreamIdentifier {
            stream_name: event.stream.into_bytes(),
        }),
        stream_revision: event.revision,
        prepare_position: event.position.prepare,
        commit_position: event.position.commit,
        metadata,
        custom_metadata: event.metadata,
        data: event.data,
    };
    ReadResp {
        content: Some(read_resp::Content::Event(read_resp::ReadEvent {
            event: Some(recorded),
            link: None,
            position: Some(read_event::Position::CommitPosition(event.position.commit)),
        })),
    }
}

/// The content type named by an appended event's `content-type` entry:
/// JSON for `application/json`, binary for anything else.
pub fn content_type(mime: Option<&String>) -> ContentType {
    match mime.map(|m| m.split(';').next().unwrap_or_default().trim()) {
        Some("application/json") => ContentType::Json,
        _ => ContentType::Binary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_ids_round_trip() {
        let id = Uuid::new_v4();
        assert_eq!(uuid_from_proto(Some(uuid_to_proto(id, true))).unwrap(), id);
        assert_eq!(uuid_from_proto(Some(uuid_to_proto(id, false))).unwrap(), id);
    }

    #[test]
    fn ticks_count_100_ns_since_the_epoch() {
        let time = DateTime::from_timestamp(1, 500_000_000).unwrap();
        assert_eq!(ticks_since_epoch(time), 15_000_000);
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type(Some(&"application/json; charset=utf-8".to_owned())),
            ContentType::Json
        );
        assert_eq!(
            content_type(Some(&"application/octet-stream".to_owned())),
            ContentType::Binary
        );
        assert_eq!(content_type(None), ContentType::Binary);
    }
}
