//! In which order a connector's events reach its sink: `"strict"` (the
//! default, as KurrentDB's own connectors: one request at a time, in log
//! order) or by key (`{"by": "stream"}` or `{"by": "metadata", "field":
//! "tenant"}`, with `"concurrency"`): events of one key in log order,
//! different keys in parallel, up to `concurrency` requests in flight.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::sinks::ConfigError;
use crate::store::RecordedEvent;
use crate::strict_de::KeySeed;

/// The most requests a connector may have in flight at once.
pub const MAX_CONCURRENCY: u16 = 256;
/// Requests in flight when `concurrency` is not given.
pub const DEFAULT_CONCURRENCY: u16 = 8;

/// The order in which events are delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Ordering {
    /// Everything in log order, one request at a time.
    #[default]
    Strict,
    /// Events with the same key in log order; up to `concurrency` requests
    /// in flight, each for events of keys no other request carries.
    Keyed { by: OrderKey, concurrency: u16 },
}

/// What makes two events "the same key".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderKey {
    /// The event's stream.
    Stream,
    /// A top-level field of the event's JSON metadata (its string or JSON
    /// text); an event without it is keyed by its stream.
    Metadata { field: String },
}

impl Ordering {
    pub fn is_strict(&self) -> bool {
        *self == Ordering::Strict
    }

    /// How many requests may be in flight at once.
    pub fn concurrency(&self) -> usize {
        match self {
            Ordering::Strict => 1,
            Ordering::Keyed { concurrency, .. } => usize::from(*concurrency),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let Ordering::Keyed { by, concurrency } = self else {
            return Ok(());
        };
        if !(1..=MAX_CONCURRENCY).contains(concurrency) {
            return Err(ConfigError::new(
                "ordering.concurrency",
                format!("must be from 1 to {MAX_CONCURRENCY}, e.g. `16`"),
            ));
        }
        if let OrderKey::Metadata { field } = by {
            if field.is_empty() {
                return Err(ConfigError::new(
                    "ordering.field",
                    "must name a metadata field, e.g. `\"tenant\"`",
                ));
            }
        }
        Ok(())
    }
}

impl OrderKey {
    /// Which of `lanes` carries `event`: events of one key always share a
    /// lane, so they are delivered one after the other.
    pub fn lane(&self, event: &RecordedEvent, lanes: usize) -> usize {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        match self {
            OrderKey::Stream => event.stream.hash(&mut hasher),
            OrderKey::Metadata { field } => match metadata_key(event, field) {
                Some(key) => key.hash(&mut hasher),
                None => event.stream.hash(&mut hasher),
            },
        }
        (hasher.finish() % lanes.max(1) as u64) as usize
    }
}

/// The value of `field` in the event's JSON metadata: a string as it is,
/// anything else as JSON text.
fn metadata_key(event: &RecordedEvent, field: &str) -> Option<String> {
    if event.metadata.is_empty() {
        return None;
    }
    let metadata: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&event.metadata).ok()?;
    match metadata.get(field)? {
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The shape of [`Ordering`], as errors show it.
const ORDERING_SHAPE: &str = r#"`"strict"` or an object such as `{"by": "stream", "concurrency": 16}` or `{"by": "metadata", "field": "tenant", "concurrency": 16}`"#;

impl Serialize for Ordering {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Ordering::Keyed { by, concurrency } = self else {
            return serializer.serialize_str("strict");
        };
        let mut map = serializer.serialize_map(None)?;
        match by {
            OrderKey::Stream => map.serialize_entry("by", "stream")?,
            OrderKey::Metadata { field } => {
                map.serialize_entry("by", "metadata")?;
                map.serialize_entry("field", field)?;
            }
        }
        map.serialize_entry("concurrency", concurrency)?;
        map.end()
    }
}

/// Hand-written so that a wrong shape says what the right one is.
impl<'de> Deserialize<'de> for Ordering {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderingVisitor;
        impl<'de> Visitor<'de> for OrderingVisitor {
            type Value = Ordering;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(ORDERING_SHAPE)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Ordering, E> {
                match value {
                    "strict" => Ok(Ordering::Strict),
                    other => Err(E::custom(format!(
                        "got `\"{other}\"`; expected {ORDERING_SHAPE}"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordering, A::Error> {
                let (mut by, mut field, mut concurrency) = (None::<String>, None, None);
                while let Some(key) = map.next_key_seed(KeySeed(&["by", "field", "concurrency"]))? {
                    match key {
                        "by" => by = Some(map.next_value()?),
                        "field" => field = Some(map.next_value::<String>()?),
                        _ => concurrency = Some(map.next_value::<u16>()?),
                    }
                }
                let concurrency = concurrency.unwrap_or(DEFAULT_CONCURRENCY);
                let by = match (by.as_deref(), field) {
                    (Some("stream"), None) => OrderKey::Stream,
                    (Some("stream"), Some(_)) => {
                        return Err(de::Error::custom(
                            "`field` is only for `\"by\": \"metadata\"`; events are keyed by their stream",
                        ))
                    }
                    (Some("metadata"), Some(field)) => OrderKey::Metadata { field },
                    (Some("metadata"), None) => {
                        return Err(de::Error::custom(
                            "`\"by\": \"metadata\"` needs `field`, the metadata field whose value is the key, e.g. `\"tenant\"`",
                        ))
                    }
                    (Some(other), _) => {
                        return Err(de::Error::custom(format!(
                            "`by` is `\"stream\"` or `\"metadata\"`, not `\"{other}\"`"
                        )))
                    }
                    (None, _) => {
                        return Err(de::Error::custom(format!(
                            "`by` is missing; expected {ORDERING_SHAPE}"
                        )))
                    }
                };
                Ok(Ordering::Keyed { by, concurrency })
            }
        }
        deserializer.deserialize_any(OrderingVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewEvent;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<Ordering, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn strict_and_keyed_forms_read_and_write_back() {
        assert_eq!(parse(json!("strict")), Ok(Ordering::Strict));
        let by_stream = parse(json!({"by": "stream", "concurrency": 16})).expect("by stream");
        assert_eq!(
            by_stream,
            Ordering::Keyed {
                by: OrderKey::Stream,
                concurrency: 16
            }
        );
        let by_tenant = parse(json!({"by": "metadata", "field": "tenant"})).expect("by tenant");
        assert_eq!(by_tenant.concurrency(), usize::from(DEFAULT_CONCURRENCY));
        for ordering in [Ordering::Strict, by_stream, by_tenant] {
            let written = serde_json::to_value(&ordering).expect("write");
            assert_eq!(parse(written), Ok(ordering));
        }
    }

    #[test]
    fn wrong_shapes_say_what_is_expected() {
        let cases = [
            (json!("by-stream"), "expected `\"strict\"`"),
            (json!({"concurrency": 4}), "`by` is missing"),
            (json!({"by": "tenant"}), "not `\"tenant\"`"),
            (json!({"by": "metadata"}), "needs `field`"),
            (json!({"by": "stream", "field": "x"}), "only for"),
            (json!({"by": "stream", "lanes": 4}), "lanes"),
            (json!({"by": "stream", "concurrency": -1}), "invalid value"),
        ];
        for (value, expected) in cases {
            let error = parse(value.clone()).expect_err("refused");
            assert!(error.contains(expected), "{value}: {error}");
        }
        let zero = parse(json!({"by": "stream", "concurrency": 0})).expect("parses");
        assert_eq!(
            zero.validate().expect_err("refused").field,
            "ordering.concurrency"
        );
    }

    #[test]
    fn one_key_always_gets_one_lane_and_keys_spread() {
        let event = |stream: &str, metadata: serde_json::Value| {
            let mut new = NewEvent::json("T", &json!({}));
            new.metadata = serde_json::to_vec(&metadata).expect("json").into();
            RecordedEvent {
                id: new.id,
                stream: stream.into(),
                revision: 0,
                position: crate::store::Position::new(1, 1),
                event_type: new.event_type,
                content_type: new.content_type,
                created: chrono::Utc::now(),
                data: new.data,
                metadata: new.metadata,
            }
        };
        let by_stream = OrderKey::Stream;
        let lanes: std::collections::HashSet<usize> = (0..100)
            .map(|n| by_stream.lane(&event(&format!("s-{n}"), json!({})), 8))
            .collect();
        assert_eq!(lanes.len(), 8, "100 streams use every lane");
        assert_eq!(
            by_stream.lane(&event("s-1", json!({"a": 1})), 8),
            by_stream.lane(&event("s-1", json!({"a": 2})), 8)
        );
        let by_tenant = OrderKey::Metadata {
            field: "tenant".into(),
        };
        assert_eq!(
            by_tenant.lane(&event("a", json!({"tenant": "acme"})), 64),
            by_tenant.lane(&event("b", json!({"tenant": "acme"})), 64)
        );
        assert_eq!(
            by_tenant.lane(&event("s-9", json!({})), 64),
            by_stream.lane(&event("s-9", json!({})), 64),
            "without the field, the stream is the key"
        );
    }
}
