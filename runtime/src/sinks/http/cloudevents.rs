//! CloudEvents 1.0: binary mode per event, a batch of structured events in
//! batch mode.
//!
//! Attributes of an event:
//!
//! | attribute         | value                                                  |
//! |-------------------|--------------------------------------------------------|
//! | `specversion`     | `1.0`                                                  |
//! | `id`              | the event id                                           |
//! | `source`          | `kurrentdb:/streams/<stream>` (stream percent-encoded) |
//! | `type`            | the event type                                         |
//! | `subject`         | the stream                                             |
//! | `time`            | when the event was written (RFC 3339, UTC, millis)     |
//! | `datacontenttype` | `application/json` or `application/octet-stream`       |
//! | `streamrevision`  | the revision in the stream (extension)                 |
//! | `logposition`     | the commit position (extension)                        |
//!
//! `source` plus `id` is unique per event, as CloudEvents requires. The two
//! extensions are strings in structured mode: CloudEvents integers are 32-bit
//! and positions are not. In binary mode the attributes are `ce-*` headers
//! (values percent-encoded as the HTTP binding says) and the body is the
//! event's data as-is; in structured mode `data` holds JSON data and
//! `data_base64` anything else. Event metadata is not a CloudEvents
//! attribute: binary mode still sends it as `esdb-record-headers-*` headers,
//! structured mode leaves it out.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

use super::template::encode_segment;
use crate::sinks::envelope::{json_data, timestamp};
use crate::store::RecordedEvent;

/// The content type of a batch of structured CloudEvents.
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

/// The `source` attribute of an event of `stream`.
pub fn source(stream: &str) -> String {
    format!("kurrentdb:/streams/{}", encode_segment(stream))
}

/// Adds the `ce-*` headers of binary mode (not `content-type`).
pub fn add_binary_headers(event: &RecordedEvent, headers: &mut HeaderMap) {
    let attributes = [
        ("ce-specversion", "1.0".to_string()),
        ("ce-id", event.id.to_string()),
        ("ce-source", source(&event.stream)),
        ("ce-type", event.event_type.clone()),
        ("ce-subject", event.stream.clone()),
        ("ce-time", timestamp(&event.created)),
        ("ce-streamrevision", event.revision.to_string()),
        ("ce-logposition", event.position.commit.to_string()),
    ];
    for (name, value) in attributes {
        if let Ok(value) = HeaderValue::from_str(&encode_header_value(&value)) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// The event as a structured CloudEvent.
pub fn structured(event: &RecordedEvent) -> Value {
    let mut value = json!({
        "specversion": "1.0",
        "id": event.id.to_string(),
        "source": source(&event.stream),
        "type": event.event_type,
        "subject": event.stream,
        "time": timestamp(&event.created),
        "datacontenttype": event.content_type.mime(),
        "streamrevision": event.revision.to_string(),
        "logposition": event.position.commit.to_string(),
    });
    if let Value::Object(map) = &mut value {
        match json_data(event) {
            Some(data) => map.insert("data".into(), data),
            None => map.insert(
                "data_base64".into(),
                Value::String(STANDARD.encode(&event.data)),
            ),
        };
    }
    value
}

/// The body of a CloudEvents batch request.
pub fn batch_body(events: &[RecordedEvent]) -> Vec<u8> {
    let batch: Vec<Value> = events.iter().map(structured).collect();
    serde_json::to_vec(&batch).unwrap_or_else(|_| b"[]".to_vec())
}

/// Percent-encodes what the CloudEvents HTTP binding says a header value
/// must not hold as-is: space, `"`, `%` and anything outside printable ASCII.
pub fn encode_header_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (0x21..=0x7e).contains(&byte) && byte != b'"' && byte != b'%' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::store::{ContentType, Position};

    fn event(content_type: ContentType, data: &[u8]) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::from_u128(1),
            stream: "orders-42".into(),
            revision: 7,
            position: Position::new(1234, 1234),
            event_type: "OrderPlaced".into(),
            content_type,
            created: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
            data: data.to_vec().into(),
            metadata: Default::default(),
        }
    }

    #[test]
    fn binary_headers() {
        let mut e = event(ContentType::Json, b"{}");
        e.stream = "a b".into();
        let mut headers = HeaderMap::new();
        add_binary_headers(&e, &mut headers);
        let get = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
        assert_eq!(get("ce-specversion"), "1.0");
        assert_eq!(get("ce-id"), "00000000-0000-0000-0000-000000000001");
        // The attribute is `kurrentdb:/streams/a%20b`; the header encodes it once more.
        assert_eq!(source("a b"), "kurrentdb:/streams/a%20b");
        assert_eq!(get("ce-source"), "kurrentdb:/streams/a%2520b");
        assert_eq!(get("ce-subject"), "a%20b");
        assert_eq!(get("ce-type"), "OrderPlaced");
        assert_eq!(get("ce-time"), "2024-05-01T12:00:00.000Z");
        assert_eq!(get("ce-streamrevision"), "7");
        assert_eq!(get("ce-logposition"), "1234");
    }

    #[test]
    fn structured_json_and_binary() {
        let value = structured(&event(ContentType::Json, b"{\"a\":1}"));
        assert_eq!(value["data"], json!({"a": 1}));
        assert_eq!(value["datacontenttype"], "application/json");
        assert_eq!(value["streamrevision"], "7");
        assert!(value.get("data_base64").is_none());
        let value = structured(&event(ContentType::Binary, b"\x01"));
        assert_eq!(value["data_base64"], "AQ==");
        assert!(value.get("data").is_none());
    }

    #[test]
    fn header_values_are_encoded() {
        assert_eq!(encode_header_value("a \"é\"%"), "a%20%22%C3%A9%22%25");
    }
}
