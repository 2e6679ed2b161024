//! The JSON form of an event that sinks, dead letters and logs share.
//!
//! ```json
//! {"id":"…","stream":"orders-42","revision":7,"position":1234,
//!  "type":"OrderPlaced","created":"2024-05-01T12:00:00.000Z",
//!  "contentType":"application/json","data":{"total":12},"metadata":{"user":"ann"}}
//! ```
//!
//! `data` holds the payload when the event is JSON and parses; otherwise the
//! bytes are in `dataBase64` (standard alphabet, padded). `metadata` holds the
//! metadata when it parses as JSON; otherwise non-empty metadata is in
//! `metadataBase64`; empty metadata gives neither. `position` is the commit
//! position. `created` is RFC 3339 in UTC with milliseconds.
//!
//! [`envelope`] builds a [`serde_json::Value`]; [`write_envelope`] and
//! [`write_envelopes`] write the same document straight to bytes without
//! re-parsing the payload into a tree (they keep its key order and only drop
//! insignificant whitespace, so the output is always one line).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::store::{ContentType, RecordedEvent};

/// The event as a JSON envelope (see the module docs).
pub fn envelope(event: &RecordedEvent) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), Value::String(event.id.to_string()));
    map.insert("stream".into(), Value::String(event.stream.clone()));
    map.insert("revision".into(), Value::from(event.revision));
    map.insert("position".into(), Value::from(event.position.commit));
    map.insert("type".into(), Value::String(event.event_type.clone()));
    map.insert("created".into(), Value::String(timestamp(&event.created)));
    map.insert(
        "contentType".into(),
        Value::String(event.content_type.mime().into()),
    );
    match json_data(event) {
        Some(data) => map.insert("data".into(), data),
        None => map.insert(
            "dataBase64".into(),
            Value::String(STANDARD.encode(&event.data)),
        ),
    };
    if !event.metadata.is_empty() {
        match parse_json(&event.metadata) {
            Some(metadata) => map.insert("metadata".into(), metadata),
            None => map.insert(
                "metadataBase64".into(),
                Value::String(STANDARD.encode(&event.metadata)),
            ),
        };
    }
    Value::Object(map)
}

/// Appends the envelope of `event` to `out` as one line of JSON (no newline).
/// Numbers, the id and the time are written straight into `out`.
pub fn write_envelope(event: &RecordedEvent, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":\"");
    let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.extend_from_slice(event.id.hyphenated().encode_lower(&mut id).as_bytes());
    out.extend_from_slice(b"\",\"stream\":");
    write_string(&event.stream, out);
    let mut number = itoa::Buffer::new();
    out.extend_from_slice(b",\"revision\":");
    out.extend_from_slice(number.format(event.revision).as_bytes());
    out.extend_from_slice(b",\"position\":");
    out.extend_from_slice(number.format(event.position.commit).as_bytes());
    out.extend_from_slice(b",\"type\":");
    write_string(&event.event_type, out);
    out.extend_from_slice(b",\"created\":\"");
    write_timestamp(&event.created, out);
    out.extend_from_slice(b"\",\"contentType\":\"");
    out.extend_from_slice(event.content_type.mime().as_bytes());
    out.push(b'"');
    if event.content_type == ContentType::Json && is_json(&event.data) {
        out.extend_from_slice(b",\"data\":");
        minify_json_into(&event.data, out);
    } else {
        out.extend_from_slice(b",\"dataBase64\":\"");
        out.extend_from_slice(STANDARD.encode(&event.data).as_bytes());
        out.push(b'"');
    }
    if !event.metadata.is_empty() {
        if is_json(&event.metadata) {
            out.extend_from_slice(b",\"metadata\":");
            minify_json_into(&event.metadata, out);
        } else {
            out.extend_from_slice(b",\"metadataBase64\":\"");
            out.extend_from_slice(STANDARD.encode(&event.metadata).as_bytes());
            out.push(b'"');
        }
    }
    out.push(b'}');
}

/// The envelopes of `events` as one JSON array.
pub fn write_envelopes(events: &[RecordedEvent]) -> Vec<u8> {
    let guess: usize = events
        .iter()
        .map(|e| 256 + e.data.len() * 4 / 3 + e.metadata.len() * 4 / 3)
        .sum();
    let mut out = Vec::with_capacity(guess + 2);
    out.push(b'[');
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_envelope(event, &mut out);
    }
    out.push(b']');
    out
}

/// The event's payload as JSON, when it is a JSON event and parses.
pub fn json_data(event: &RecordedEvent) -> Option<Value> {
    match event.content_type {
        ContentType::Json => parse_json(&event.data),
        ContentType::Binary => None,
    }
}

/// `bytes` parsed as JSON, if they are JSON.
pub fn parse_json(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// Whether `bytes` are one valid JSON document.
pub fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// A time as the envelope writes it: RFC 3339, UTC, milliseconds.
pub fn timestamp(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// [`timestamp`], written into `out` digit by digit (years 0 to 9999, as
/// every stored event has; others go through [`timestamp`]).
fn write_timestamp(time: &DateTime<Utc>, out: &mut Vec<u8>) {
    use chrono::{Datelike, Timelike};
    let time = time.naive_utc();
    let Ok(year) = u32::try_from(time.year()) else {
        out.extend_from_slice(timestamp(&time.and_utc()).as_bytes());
        return;
    };
    if year > 9999 {
        out.extend_from_slice(timestamp(&time.and_utc()).as_bytes());
        return;
    }
    // Leap seconds show as :60, as chrono writes them.
    let (second, millis) = match time.nanosecond() {
        n if n >= 1_000_000_000 => (time.second() + 1, (n - 1_000_000_000) / 1_000_000),
        n => (time.second(), n / 1_000_000),
    };
    write_digits(year, 4, out);
    out.push(b'-');
    write_digits(time.month(), 2, out);
    out.push(b'-');
    write_digits(time.day(), 2, out);
    out.push(b'T');
    write_digits(time.hour(), 2, out);
    out.push(b':');
    write_digits(time.minute(), 2, out);
    out.push(b':');
    write_digits(second, 2, out);
    out.push(b'.');
    write_digits(millis, 3, out);
    out.push(b'Z');
}

/// The last `width` (at most 4) decimal digits of `value`, zero-padded.
fn write_digits(mut value: u32, width: usize, out: &mut Vec<u8>) {
    let mut digits = [b'0'; 4];
    for digit in digits[..width].iter_mut().rev() {
        // A remainder of 10 fits in a byte.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// Appends valid JSON `json` to `out` without insignificant whitespace,
/// copying runs of bytes at a time (a compact payload is copied in a few
/// runs: its strings and what lies between them).
pub fn minify_json_into(json: &[u8], out: &mut Vec<u8>) {
    // Compact JSON without a blank anywhere is copied whole.
    if memchr::memchr3(b' ', b'\n', b'\t', json).is_none() && memchr::memchr(b'\r', json).is_none()
    {
        out.extend_from_slice(json);
        return;
    }
    out.reserve(json.len());
    let mut rest = json;
    while !rest.is_empty() {
        // Outside a string: copy up to the next whitespace or string.
        let stop = rest
            .iter()
            .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'"'))
            .unwrap_or(rest.len());
        out.extend_from_slice(&rest[..stop]);
        rest = &rest[stop..];
        match rest.first() {
            None => break,
            Some(b'"') => {
                // A string, whole: up to its closing quote (escapes skipped).
                let end = string_end(rest);
                out.extend_from_slice(&rest[..end]);
                rest = &rest[end..];
            }
            Some(_) => rest = &rest[1..],
        }
    }
}

/// The length of the string `json` starts with, both quotes included (all
/// of `json` when it is not closed).
fn string_end(json: &[u8]) -> usize {
    let mut i = 1;
    while i < json.len() {
        match json[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    json.len()
}

fn write_string(value: &str, out: &mut Vec<u8>) {
    // Serializing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::store::Position;

    fn event(content_type: ContentType, data: &[u8], metadata: &[u8]) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            stream: "orders-42".into(),
            revision: 7,
            position: Position::new(1234, 1234),
            event_type: "OrderPlaced".into(),
            content_type,
            created: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
                + chrono::Duration::microseconds(123_456),
            data: data.to_vec().into(),
            metadata: metadata.to_vec().into(),
        }
    }

    fn bytes_envelope(event: &RecordedEvent) -> Value {
        let mut out = Vec::new();
        write_envelope(event, &mut out);
        assert!(!out.contains(&b'\n'));
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn json_event_with_json_metadata() {
        let e = event(
            ContentType::Json,
            b"{ \"total\" : 12 }",
            b"{\"user\":\"ann\"}",
        );
        let expected = json!({
            "id": "01234567-89ab-cdef-0123-456789abcdef",
            "stream": "orders-42",
            "revision": 7,
            "position": 1234,
            "type": "OrderPlaced",
            "created": "2024-05-01T12:00:00.123Z",
            "contentType": "application/json",
            "data": {"total": 12},
            "metadata": {"user": "ann"},
        });
        assert_eq!(envelope(&e), expected);
        assert_eq!(bytes_envelope(&e), expected);
    }

    #[test]
    fn binary_and_unparsable_payloads_are_base64() {
        let binary = event(ContentType::Binary, &[0, 159, 146, 150], b"");
        let value = envelope(&binary);
        assert_eq!(value["contentType"], "application/octet-stream");
        assert_eq!(value["dataBase64"], "AJ+Slg==");
        assert!(value.get("data").is_none());
        assert!(value.get("metadata").is_none() && value.get("metadataBase64").is_none());
        assert_eq!(bytes_envelope(&binary), value);

        let broken = event(ContentType::Json, b"{nope", b"not json");
        let value = envelope(&broken);
        assert_eq!(value["contentType"], "application/json");
        assert_eq!(value["dataBase64"], STANDARD.encode(b"{nope"));
        assert_eq!(value["metadataBase64"], STANDARD.encode(b"not json"));
        assert!(value.get("data").is_none() && value.get("metadata").is_none());
        assert_eq!(bytes_envelope(&broken), value);
    }

    #[test]
    fn binary_event_holding_json_stays_base64() {
        let e = event(ContentType::Binary, b"{\"a\":1}", b"");
        assert_eq!(envelope(&e)["dataBase64"], STANDARD.encode(b"{\"a\":1}"));
    }

    #[test]
    fn batch_is_an_array_in_order() {
        let mut second = event(ContentType::Json, b"[1,\n 2]", b"");
        second.revision = 8;
        let events = [event(ContentType::Json, b"{\"z\":1,\"a\":2}", b""), second];
        let bytes = write_envelopes(&events);
        assert_eq!(bytes.first(), Some(&b'['));
        // The payload keeps its key order.
        assert!(String::from_utf8_lossy(&bytes).contains(r#""data":{"z":1,"a":2}"#));
        let parsed: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(parsed, json!([envelope(&events[0]), envelope(&events[1])]));
        assert_eq!(write_envelopes(&[]), b"[]");
    }

    #[test]
    fn minify_keeps_whitespace_inside_strings() {
        let mut out = Vec::new();
        minify_json_into(b"{ \"a b\" :\n [ \"x \\\" y\" , 1 ] }", &mut out);
        assert_eq!(out, br#"{"a b":["x \" y",1]}"#);
    }

    #[test]
    fn strings_are_escaped() {
        let mut e = event(ContentType::Json, b"{}", b"");
        e.stream = "we\"ird\nstream".into();
        assert_eq!(bytes_envelope(&e)["stream"], "we\"ird\nstream");
    }

    #[test]
    fn times_written_in_place_read_as_rfc_3339_does() {
        let times = [
            Utc.timestamp_millis_opt(0).single(),
            Utc.timestamp_millis_opt(1_764_000_000_123).single(),
            Utc.timestamp_millis_opt(253_402_300_799_999).single(),
            Utc.timestamp_millis_opt(-62_135_596_800_000).single(),
            Utc.timestamp_opt(1_483_228_799, 1_500_000_000).single(),
            // Years outside 0..=9999 take chrono's own path.
            Utc.timestamp_millis_opt(253_402_300_800_000).single(),
            Utc.timestamp_millis_opt(-62_135_596_800_001).single(),
        ];
        for time in times.into_iter().flatten() {
            let mut out = Vec::new();
            write_timestamp(&time, &mut out);
            assert_eq!(String::from_utf8(out).expect("utf-8"), timestamp(&time));
        }
        for millis in (0..2_000_000_000_000i64).step_by(7_777_777_777) {
            let time = Utc.timestamp_millis_opt(millis).single().expect("time");
            let mut out = Vec::new();
            write_timestamp(&time, &mut out);
            assert_eq!(String::from_utf8(out).expect("utf-8"), timestamp(&time));
        }
    }

    /// What minifying must give: the text without whitespace outside strings.
    fn minified_byte_by_byte(json: &[u8]) -> Vec<u8> {
        let (mut out, mut in_string, mut escaped) = (Vec::new(), false, false);
        for &byte in json {
            if in_string {
                out.push(byte);
                if escaped {
                    escaped = false;
                } else if byte == b'\\' {
                    escaped = true;
                } else if byte == b'"' {
                    in_string = false;
                }
            } else if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                in_string = byte == b'"';
                out.push(byte);
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn minifying_drops_only_whitespace_outside_strings(value in json_value(), pretty: bool) {
            let text = if pretty {
                serde_json::to_vec_pretty(&value).expect("json")
            } else {
                serde_json::to_vec(&value).expect("json")
            };
            let mut out = Vec::new();
            minify_json_into(&text, &mut out);
            proptest::prop_assert_eq!(&out, &minified_byte_by_byte(&text));
            proptest::prop_assert_eq!(serde_json::from_slice::<Value>(&out).expect("json"), value);
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[ a-z\\\\\"\\t\\n\\u{e9}]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map("[ a-z\\\\\"]{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
