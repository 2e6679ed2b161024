//! What the HTTP sink sends: URL, headers and body of per-event and batch
//! requests.
//!
//! Every request carries the extra `headers` of the settings, the
//! `authorization` of `auth`, `user-agent`, `esdb-connector-id` and, on a
//! member of a cluster, `esdb-connector-member` and `esdb-connector-epoch`
//! (who delivers, under which ownership epoch).
//!
//! A per-event request (compatible with KurrentDB's HTTP sink) has the
//! event's data as its body, the event's content type, and `esdb-record-id`,
//! `esdb-record-stream-id`, `esdb-record-stream-revision`,
//! `esdb-record-log-position` (commit position), `esdb-record-timestamp`
//! (RFC 3339), `esdb-record-schema-subject` (event type), plus one
//! `esdb-record-headers-<key>` per top-level key of JSON-object metadata (key
//! lower-cased; strings as-is, other values as compact JSON; keys or values
//! that cannot be headers are skipped). With CloudEvents the `esdb-record-*`
//! headers other than the metadata ones give way to `ce-*` headers.
//!
//! A batch request has a JSON array of [envelopes](crate::sinks::envelope)
//! (or of structured CloudEvents) as its body and `esdb-batch-size`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::Url;
use serde_json::Value;

use super::cloudevents;
use super::config::{HttpAuth, HttpSinkConfig};
use crate::sinks::envelope::{parse_json, timestamp, write_envelopes};
use crate::sinks::{ConfigError, OwnerTag};
use crate::store::RecordedEvent;

/// One request, ready to be sent (and sent again).
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The headers of every request.
pub fn base_headers(
    config: &HttpSinkConfig,
    connector_id: &str,
    owner: Option<&OwnerTag>,
) -> Result<HeaderMap, ConfigError> {
    let mut headers = HeaderMap::new();
    for (name, setting) in &config.headers {
        let field = || format!("sink.headers.{name}");
        let secret = setting.is_secret(name);
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ConfigError::new(field(), "is not a valid header name, e.g. `x-api-key`")
        })?;
        let mut value = HeaderValue::from_str(setting.value())
            .map_err(|_| ConfigError::new(field(), "must be printable ASCII, e.g. `orders`"))?;
        value.set_sensitive(secret);
        headers.insert(name, value);
    }
    if let Some(auth) = &config.auth {
        let text = match auth {
            HttpAuth::Basic { username, password } => {
                format!(
                    "Basic {}",
                    STANDARD.encode(format!("{username}:{password}"))
                )
            }
            HttpAuth::Bearer { token } => format!("Bearer {token}"),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            ConfigError::new(
                "sink.auth",
                "must be printable ASCII, e.g. `{\"type\":\"bearer\",\"token\":\"abc\"}`",
            )
        })?;
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_static(concat!("kurrent-connectors/", env!("CARGO_PKG_VERSION"))),
    );
    let connector = HeaderValue::from_str(connector_id).map_err(|_| {
        ConfigError::new(
            "id",
            "must be printable ASCII to be sent as `esdb-connector-id`, e.g. `orders-hook`",
        )
    })?;
    headers.insert(HeaderName::from_static("esdb-connector-id"), connector);
    if let Some(owner) = owner {
        // Member names are checked to be header-safe when a node starts.
        if let Ok(member) = HeaderValue::from_str(&owner.member) {
            headers.insert(HeaderName::from_static("esdb-connector-member"), member);
        }
        headers.insert(
            HeaderName::from_static("esdb-connector-epoch"),
            HeaderValue::from(owner.epoch),
        );
    }
    Ok(headers)
}

/// The request of one event.
pub fn event_request(
    event: &RecordedEvent,
    url: Url,
    base: &HeaderMap,
    cloud_events: bool,
) -> PreparedRequest {
    let mut headers = base.clone();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(event.content_type.mime()),
    );
    if cloud_events {
        cloudevents::add_binary_headers(event, &mut headers);
    } else {
        add_record_headers(event, &mut headers);
    }
    add_metadata_headers(event, &mut headers);
    PreparedRequest {
        url,
        headers,
        body: Bytes::copy_from_slice(&event.data),
    }
}

/// The request of a batch of events.
pub fn batch_request(
    events: &[RecordedEvent],
    url: Url,
    base: &HeaderMap,
    cloud_events: bool,
) -> PreparedRequest {
    let mut headers = base.clone();
    let (content_type, body) = if cloud_events {
        (
            cloudevents::BATCH_CONTENT_TYPE,
            cloudevents::batch_body(events),
        )
    } else {
        ("application/json", write_envelopes(events))
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        HeaderName::from_static("esdb-batch-size"),
        HeaderValue::from(events.len()),
    );
    PreparedRequest {
        url,
        headers,
        body: Bytes::from(body),
    }
}

/// The `esdb-record-*` headers of KurrentDB's HTTP sink.
pub fn add_record_headers(event: &RecordedEvent, headers: &mut HeaderMap) {
    let record = [
        ("esdb-record-id", event.id.to_string()),
        ("esdb-record-stream-id", event.stream.clone()),
        ("esdb-record-stream-revision", event.revision.to_string()),
        (
            "esdb-record-log-position",
            event.position.commit.to_string(),
        ),
        ("esdb-record-timestamp", timestamp(&event.created)),
        ("esdb-record-schema-subject", event.event_type.clone()),
    ];
    for (name, value) in record {
        // Stream names and event types that are not printable ASCII are
        // percent-encoded like CloudEvents header values.
        let value = if is_printable_ascii(&value) {
            HeaderValue::from_str(&value)
        } else {
            HeaderValue::from_str(&cloudevents::encode_header_value(&value))
        };
        if let Ok(value) = value {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// One `esdb-record-headers-<key>` per top-level key of JSON-object metadata.
pub fn add_metadata_headers(event: &RecordedEvent, headers: &mut HeaderMap) {
    let Some(Value::Object(metadata)) = parse_json(&event.metadata) else {
        return;
    };
    for (key, value) in metadata {
        let name = format!("esdb-record-headers-{}", key.to_lowercase());
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let text = match value {
            Value::String(text) => text,
            other => other.to_string(),
        };
        if !is_printable_ascii(&text) {
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(&text) {
            headers.insert(name, value);
        }
    }
}

/// Whether `text` can be a header value as-is: printable ASCII and spaces
/// (the `http` crate would also take bytes above 127, which many receivers
/// cannot read).
pub fn is_printable_ascii(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::store::{ContentType, Position};

    fn event(metadata: &[u8]) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::nil(),
            stream: "s-1".into(),
            revision: 0,
            position: Position::START,
            event_type: "T".into(),
            content_type: ContentType::Json,
            created: Utc::now(),
            data: b"{}".to_vec().into(),
            metadata: metadata.to_vec().into(),
        }
    }

    #[test]
    fn metadata_headers_skip_what_cannot_be_a_header() {
        let mut headers = HeaderMap::new();
        let metadata =
            r#"{"Tenant":"acme","n":3,"obj":{"a":1},"bad key":"x","line":"a\nb","utf":"é"}"#;
        add_metadata_headers(&event(metadata.as_bytes()), &mut headers);
        assert_eq!(headers["esdb-record-headers-tenant"], "acme");
        assert_eq!(headers["esdb-record-headers-n"], "3");
        assert_eq!(headers["esdb-record-headers-obj"], r#"{"a":1}"#);
        assert_eq!(headers.len(), 3);
        let mut none = HeaderMap::new();
        add_metadata_headers(&event(b"[1,2]"), &mut none);
        add_metadata_headers(&event(b"not json"), &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn non_ascii_stream_names_are_encoded() {
        let mut e = event(b"");
        e.stream = "café-1".into();
        let mut headers = HeaderMap::new();
        add_record_headers(&e, &mut headers);
        assert_eq!(headers["esdb-record-stream-id"], "caf%C3%A9-1");
    }

    #[test]
    fn base_headers_carry_auth_and_connector() {
        let mut config = HttpSinkConfig::new("http://h/x");
        config.auth = Some(HttpAuth::Basic {
            username: "u".into(),
            password: "p".into(),
        });
        config.headers.insert("X-Source".into(), "orders".into());
        let headers = base_headers(&config, "c1", None).unwrap();
        assert_eq!(headers["authorization"], "Basic dTpw");
        assert!(headers["authorization"].is_sensitive());
        assert_eq!(headers["x-source"], "orders");
        assert_eq!(headers["esdb-connector-id"], "c1");
    }
}
