//! Atomic appends to several streams through the server's v2
//! `StreamsService.AppendSession` (KurrentDB 25.1 or later), which the
//! official client lacks: one request per stream on the [`NodeChannel`], the
//! answer's revisions and position back as a [`MultiAppendResult`].
//!
//! Events become records: the id as `record_id`, the event type as the
//! schema name, JSON or bytes as the schema format, and the metadata (which
//! must be empty or a JSON object) as the record's properties, which the
//! server keeps as a JSON object again. The server's failures come back as
//! the same [`StoreError`]s the embedded store gives, read from the rich
//! error details of the status (see [`store_error`]); a server without
//! `AppendSession` gives [`StoreError::Unsupported`].

use prost::Message;
use tonic::{Code, Request, Status};

use super::channel::NodeChannel;
use super::protocol::google::rpc;
use super::protocol::v2::errors::{
    StreamRevisionConflictErrorDetails, StreamTombstonedErrorDetails,
};
use super::protocol::v2::streams_service_client::StreamsServiceClient;
use super::protocol::v2::{AppendRecord, AppendRequest, SchemaFormat, SchemaInfo};
use crate::store::{
    ContentType, CurrentRevision, ExpectedRevision, MultiAppendResult, NewEvent, Position,
    StoreError, StreamAppend, StreamAppended,
};

/// Appends `appends` (already checked) atomically.
pub(super) async fn append_streams(
    channel: &NodeChannel,
    appends: Vec<StreamAppend>,
) -> Result<MultiAppendResult, StoreError> {
    let requests = appends
        .into_iter()
        .map(request)
        .collect::<Result<Vec<_>, _>>()?;
    let mut call = Request::new(tokio_stream::iter(requests));
    if let Some(authorization) = channel.authorization() {
        call.metadata_mut()
            .insert("authorization", authorization.clone());
    }
    let mut client = StreamsServiceClient::new(channel.channel().await?)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let response = match client.append_session(call).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            if status.code() == Code::Unavailable {
                channel.forget();
            }
            return Err(store_error(&status));
        }
    };
    let streams = response
        .output
        .into_iter()
        .map(|output| StreamAppended {
            stream: output.stream,
            revision: current_revision(output.stream_revision),
        })
        .collect();
    let position = u64::try_from(response.position)
        .ok()
        .map(|p| Position::new(p, p));
    Ok(MultiAppendResult { streams, position })
}

fn current_revision(value: i64) -> CurrentRevision {
    u64::try_from(value).map_or(CurrentRevision::NoStream, CurrentRevision::Current)
}

fn expected_value(expected: ExpectedRevision) -> i64 {
    match expected {
        ExpectedRevision::NoStream => -1,
        ExpectedRevision::Any => -2,
        ExpectedRevision::StreamExists => -4,
        ExpectedRevision::Exact(revision) => i64::try_from(revision).unwrap_or(i64::MAX),
    }
}

fn expected_from_value(value: i64) -> ExpectedRevision {
    match value {
        -1 => ExpectedRevision::NoStream,
        -4 => ExpectedRevision::StreamExists,
        other => u64::try_from(other).map_or(ExpectedRevision::Any, ExpectedRevision::Exact),
    }
}

fn request(append: StreamAppend) -> Result<AppendRequest, StoreError> {
    let stream = append.stream;
    let records = append
        .events
        .into_iter()
        .enumerate()
        .map(|(index, event)| record(&stream, index, event))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AppendRequest {
        expected_revision: Some(expected_value(append.expected)),
        stream,
        records,
    })
}

fn record(stream: &str, index: usize, event: NewEvent) -> Result<AppendRecord, StoreError> {
    let properties = if event.metadata.is_empty() {
        Default::default()
    } else {
        match serde_json::from_slice::<serde_json::Value>(&event.metadata) {
            Ok(serde_json::Value::Object(object)) => object
                .into_iter()
                .map(|(key, value)| (key, proto_value(value)))
                .collect(),
            _ => {
                return Err(StoreError::InvalidRequest(format!(
                    "event {index} of stream `{stream}`: in a multi-stream append on KurrentDB, \
                     metadata must be empty or a JSON object, e.g. {{\"tenant\":\"acme\"}}"
                )))
            }
        }
    };
    let format = match event.content_type {
        ContentType::Json => SchemaFormat::Json,
        ContentType::Binary => SchemaFormat::Bytes,
    };
    Ok(AppendRecord {
        record_id: Some(event.id.hyphenated().to_string()),
        properties,
        schema: Some(SchemaInfo {
            format: format as i32,
            name: event.event_type,
            id: None,
        }),
        data: event.data.into(),
        stream: String::new(),
    })
}

/// JSON as a protobuf `Value`.
fn proto_value(value: serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(proto_value).collect(),
        }),
        serde_json::Value::Object(fields) => Kind::StructValue(prost_types::Struct {
            fields: fields
                .into_iter()
                .map(|(k, v)| (k, proto_value(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// The detail of a rich error status, if it has one: its type name (after
/// the last `/` of the type URL) and bytes.
fn detail(status: &Status) -> Option<(String, Vec<u8>)> {
    let rich = rpc::Status::decode(status.details()).ok()?;
    let any = rich.details?;
    let name = any
        .type_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    Some((name, any.value))
}

/// A failed `AppendSession` as the store error the embedded store gives
/// for the same request.
pub(super) fn store_error(status: &Status) -> StoreError {
    const ERRORS: &str = "kurrentdb.protocol.v2.streams.errors.";
    if let Some((name, value)) = detail(status) {
        match name.strip_prefix(ERRORS) {
            Some("StreamRevisionConflictErrorDetails") => {
                if let Ok(conflict) = StreamRevisionConflictErrorDetails::decode(value.as_slice()) {
                    return StoreError::WrongExpectedRevision {
                        stream: conflict.stream,
                        expected: expected_from_value(conflict.expected_revision),
                        current: current_revision(conflict.actual_revision),
                    };
                }
            }
            Some("StreamTombstonedErrorDetails") => {
                if let Ok(tombstoned) = StreamTombstonedErrorDetails::decode(value.as_slice()) {
                    return StoreError::StreamDeleted(tombstoned.stream);
                }
            }
            Some(
                "StreamAlreadyInAppendSessionErrorDetails"
                | "AppendRecordSizeExceededErrorDetails"
                | "AppendTransactionSizeExceededErrorDetails",
            ) => return StoreError::InvalidRequest(status.message().to_owned()),
            _ => {}
        }
    }
    match status.code() {
        Code::Unimplemented => StoreError::Unsupported(
            "atomic appends to several streams are not supported by this server (they need \
             KurrentDB 25.1 or later)"
                .into(),
        ),
        Code::InvalidArgument | Code::OutOfRange => {
            StoreError::InvalidRequest(format!("multi-stream append: {}", status.message()))
        }
        Code::PermissionDenied | Code::Unauthenticated => StoreError::Unavailable(format!(
            "access denied: the KurrentDB server refused a multi-stream append (check the \
             credentials in the connection string and the streams' ACLs): {}",
            status.message()
        )),
        _ => StoreError::Unavailable(format!("multi-stream append: {}", status.message())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rich<D: Message>(code: Code, name: &str, details: &D) -> Status {
        let status = rpc::Status {
            code: code as i32,
            message: "refused".into(),
            details: Some(prost_types::Any {
                type_url: format!(
                    "type.googleapis.com/kurrentdb.protocol.v2.streams.errors.{name}"
                ),
                value: details.encode_to_vec(),
            }),
        };
        Status::with_details(code, "refused", status.encode_to_vec().into())
    }

    #[test]
    fn rich_errors_become_the_embedded_stores_errors() {
        let conflict = rich(
            Code::FailedPrecondition,
            "StreamRevisionConflictErrorDetails",
            &StreamRevisionConflictErrorDetails {
                stream: "orders".into(),
                expected_revision: -1,
                actual_revision: 3,
            },
        );
        match store_error(&conflict) {
            StoreError::WrongExpectedRevision {
                stream,
                expected,
                current,
            } => {
                assert_eq!(stream, "orders");
                assert_eq!(expected, ExpectedRevision::NoStream);
                assert_eq!(current, CurrentRevision::Current(3));
            }
            other => panic!("{other:?}"),
        }
        let tombstoned = rich(
            Code::FailedPrecondition,
            "StreamTombstonedErrorDetails",
            &StreamTombstonedErrorDetails {
                stream: "gone".into(),
            },
        );
        assert!(matches!(store_error(&tombstoned), StoreError::StreamDeleted(s) if s == "gone"));
        assert!(matches!(
            store_error(&Status::unimplemented("no such method")),
            StoreError::Unsupported(m) if m.contains("KurrentDB 25.1 or later")
        ));
        assert!(matches!(
            store_error(&Status::permission_denied("no")),
            StoreError::Unavailable(m) if m.starts_with("access denied")
        ));
    }

    #[test]
    fn metadata_must_be_a_json_object() {
        let mut event = NewEvent::json("A", &serde_json::json!({}));
        event.metadata = bytes::Bytes::from_static(br#"{"tenant":"acme","n":2}"#);
        let record = record("s", 0, event.clone()).expect("an object");
        assert_eq!(record.properties.len(), 2);
        event.metadata = bytes::Bytes::from_static(b"[1]");
        assert!(
            matches!(record_fails(event), StoreError::InvalidRequest(m) if m.contains("JSON object"))
        );
    }

    fn record_fails(event: NewEvent) -> StoreError {
        match record("s", 0, event) {
            Ok(r) => panic!("accepted: {r:?}"),
            Err(e) => e,
        }
    }
}
