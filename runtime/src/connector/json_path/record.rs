//! KurrentDB's record shape, which KurrentDB Connectors' `jsonPath` filters
//! query: the event's data under `value`, with its stream, type, metadata
//! and ids beside it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::store::RecordedEvent;

/// What a JSONPath filter queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JsonPathTarget {
    /// The event's JSON data (the default).
    #[default]
    Data,
    /// KurrentDB's record: `{"recordId", "position": {"streamId",
    /// "partitionId"}, "sequenceId", "isRedacted", "schemaInfo": {"subject",
    /// "type"}, "headers", "value", "streamId", "partitionId"}`, with the
    /// event's data as `value` and its JSON-object metadata as `headers`.
    Record,
}

impl JsonPathTarget {
    pub fn is_data(&self) -> bool {
        *self == JsonPathTarget::Data
    }
}

/// The record of `event` whose JSON data is `value`.
pub fn document(event: &RecordedEvent, value: Value) -> Value {
    let headers = match serde_json::from_slice::<Value>(&event.metadata) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({}),
    };
    json!({
        "recordId": event.id.to_string(),
        "position": { "streamId": event.stream, "partitionId": -1 },
        "sequenceId": event.revision,
        "isRedacted": false,
        "schemaInfo": { "subject": event.event_type, "type": "json" },
        "headers": headers,
        "value": value,
        "streamId": event.stream,
        "partitionId": -1,
    })
}
