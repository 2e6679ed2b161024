//! Append requests as store appends: a stream name, its expected revision
//! (the protocol's constants: -1 no stream, -2 any, -4 the stream exists, a
//! revision otherwise; absent means any) and its records as events. A
//! record's schema name is the event type; its format says JSON or binary;
//! its id, when given, must be a UUID (else one is made up); its
//! properties become the event's metadata, a JSON object of their values
//! (no metadata when there are none).

use tonic::Status;
use uuid::Uuid;

use super::super::proto::kurrentdb::protocol::v2::streams::{
    AppendRecord, AppendRequest, SchemaFormat,
};
use crate::store::{ContentType, ExpectedRevision, NewEvent, StreamAppend};

/// The protocol's "the stream must not exist".
pub const NO_STREAM: i64 = -1;
/// The protocol's "whatever the stream's state".
pub const ANY: i64 = -2;
/// The protocol's "the stream must exist".
pub const EXISTS: i64 = -4;

/// The bytes of a record's id as the size limits count it (a hyphenated
/// UUID), whether or not the client sent one.
const ID_BYTES: usize = 36;

/// An expected revision from its protocol form.
pub fn expected_revision(value: Option<i64>) -> Result<ExpectedRevision, Status> {
    match value {
        None | Some(ANY) => Ok(ExpectedRevision::Any),
        Some(NO_STREAM) => Ok(ExpectedRevision::NoStream),
        Some(EXISTS) => Ok(ExpectedRevision::StreamExists),
        Some(revision) => u64::try_from(revision)
            .map(ExpectedRevision::Exact)
            .map_err(|_| {
                Status::invalid_argument(format!(
                    "expected revision {revision} is neither a revision nor -1 (no stream), \
                     -2 (any) or -4 (the stream exists)"
                ))
            }),
    }
}

/// An expected revision in its protocol form.
pub fn expected_revision_value(expected: ExpectedRevision) -> i64 {
    match expected {
        ExpectedRevision::Any => ANY,
        ExpectedRevision::NoStream => NO_STREAM,
        ExpectedRevision::StreamExists => EXISTS,
        ExpectedRevision::Exact(revision) => i64::try_from(revision).unwrap_or(i64::MAX),
    }
}

/// What one record counts towards the size limits: its data, event type,
/// id and properties (keys and values as JSON).
pub fn record_bytes(record: &AppendRecord) -> usize {
    let properties = record.properties.iter().fold(0usize, |sum, (key, value)| {
        sum.saturating_add(key.len())
            .saturating_add(value_json(value).to_string().len())
    });
    let event_type = record.schema.as_ref().map_or(0, |s| s.name.len());
    record
        .data
        .len()
        .saturating_add(event_type)
        .saturating_add(ID_BYTES)
        .saturating_add(properties)
}

/// The record's id: the one given, else a new one.
pub fn record_id(record: &AppendRecord) -> Result<Uuid, Status> {
    match record.record_id.as_deref() {
        None | Some("") => Ok(Uuid::new_v4()),
        Some(id) => Uuid::parse_str(id)
            .map_err(|e| Status::invalid_argument(format!("record id `{id}` is not a UUID: {e}"))),
    }
}

/// The store append of one request; `ids` are the records' ids, in order.
pub fn stream_append(request: AppendRequest, ids: Vec<Uuid>) -> Result<StreamAppend, Status> {
    let expected = expected_revision(request.expected_revision)?;
    let events = request
        .records
        .into_iter()
        .zip(ids)
        .map(|(record, id)| new_event(record, id))
        .collect();
    Ok(StreamAppend::new(request.stream, expected, events))
}

fn new_event(record: AppendRecord, id: Uuid) -> NewEvent {
    let (event_type, content_type) = match record.schema {
        Some(schema) => {
            let json = schema.format == SchemaFormat::Json as i32;
            let content = if json {
                ContentType::Json
            } else {
                ContentType::Binary
            };
            (schema.name, content)
        }
        None => (String::new(), ContentType::Binary),
    };
    let metadata = if record.properties.is_empty() {
        Vec::new()
    } else {
        let object: serde_json::Map<String, serde_json::Value> = record
            .properties
            .iter()
            .map(|(key, value)| (key.clone(), value_json(value)))
            .collect();
        serde_json::Value::Object(object).to_string().into_bytes()
    };
    NewEvent {
        id,
        event_type,
        content_type,
        data: record.data.into(),
        metadata: metadata.into(),
    }
}

/// A protobuf `Value` as JSON (numbers that JSON cannot hold become null;
/// whole numbers stay whole, as they were written).
pub fn value_json(value: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::NumberValue(n)) => whole_number(*n)
            .map(serde_json::Number::from)
            .or_else(|| serde_json::Number::from_f64(*n))
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(Kind::StructValue(s)) => serde_json::Value::Object(
            s.fields
                .iter()
                .map(|(k, v)| (k.clone(), value_json(v)))
                .collect(),
        ),
        Some(Kind::ListValue(l)) => {
            serde_json::Value::Array(l.values.iter().map(value_json).collect())
        }
    }
}

/// `n` as an integer, when it is one that a double holds exactly.
fn whole_number(n: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    (n.fract() == 0.0 && n.abs() <= EXACT).then_some(n as i64)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::super::proto::kurrentdb::protocol::v2::streams::SchemaInfo;
    use super::*;

    fn text(value: &str) -> prost_types::Value {
        prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue(value.into())),
        }
    }

    #[test]
    fn expected_revision_constants() {
        assert_eq!(expected_revision(None).unwrap(), ExpectedRevision::Any);
        assert_eq!(expected_revision(Some(-2)).unwrap(), ExpectedRevision::Any);
        assert_eq!(
            expected_revision(Some(-1)).unwrap(),
            ExpectedRevision::NoStream
        );
        assert_eq!(
            expected_revision(Some(-4)).unwrap(),
            ExpectedRevision::StreamExists
        );
        assert_eq!(
            expected_revision(Some(0)).unwrap(),
            ExpectedRevision::Exact(0)
        );
        assert_eq!(
            expected_revision(Some(7)).unwrap(),
            ExpectedRevision::Exact(7)
        );
        let refused = expected_revision(Some(-3)).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        for expected in [
            ExpectedRevision::Any,
            ExpectedRevision::NoStream,
            ExpectedRevision::StreamExists,
            ExpectedRevision::Exact(5),
        ] {
            assert_eq!(
                expected_revision(Some(expected_revision_value(expected))).unwrap(),
                expected
            );
        }
    }

    #[test]
    fn records_become_events() {
        let id = Uuid::new_v4();
        let json = AppendRecord {
            record_id: Some(id.to_string()),
            properties: HashMap::from([("tenant".to_owned(), text("acme"))]),
            schema: Some(SchemaInfo {
                format: SchemaFormat::Json as i32,
                name: "OrderPlaced".into(),
                id: None,
            }),
            data: br#"{"n":1}"#.to_vec(),
            stream: String::new(),
        };
        let binary = AppendRecord {
            record_id: None,
            properties: HashMap::new(),
            schema: Some(SchemaInfo {
                format: SchemaFormat::Bytes as i32,
                name: "Blob".into(),
                id: None,
            }),
            data: vec![0, 255],
            stream: String::new(),
        };
        let ids = vec![record_id(&json).unwrap(), record_id(&binary).unwrap()];
        assert_eq!(ids[0], id, "the given id is kept");
        let request = AppendRequest {
            stream: "orders".into(),
            records: vec![json, binary],
            expected_revision: Some(-1),
        };
        let append = stream_append(request, ids).unwrap();
        assert_eq!(append.stream, "orders");
        assert_eq!(append.expected, ExpectedRevision::NoStream);
        let [first, second] = append.events.as_slice() else {
            panic!("two events expected: {:?}", append.events);
        };
        assert_eq!(first.id, id);
        assert_eq!(first.event_type, "OrderPlaced");
        assert_eq!(first.content_type, ContentType::Json);
        assert_eq!(first.metadata, br#"{"tenant":"acme"}"#.to_vec());
        assert_eq!(second.content_type, ContentType::Binary);
        assert!(second.metadata.is_empty(), "no properties, no metadata");
        assert_eq!(second.data, vec![0, 255]);
    }

    #[test]
    fn bad_record_ids_are_refused() {
        let record = AppendRecord {
            record_id: Some("not-a-uuid".into()),
            ..AppendRecord::default()
        };
        assert_eq!(
            record_id(&record).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }
}
