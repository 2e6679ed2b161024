//! The OpenAPI schema of an event's JSON envelope, as a dead letter keeps
//! it and a preview shows it (built by [`crate::sinks::envelope`], which
//! describes it). The envelope is built by hand rather than serialized from
//! a type, so its schema is written by hand too, field by field; the API's
//! tests compare it with real answers.

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// What a field of the envelope holds.
#[derive(Clone, Copy)]
enum Kind {
    Uuid,
    Text,
    Count,
    Time,
    /// Any JSON value.
    Json,
}

/// The fields: name, kind, whether every envelope has it, description.
const FIELDS: [(&str, Kind, bool, &str); 11] = [
    ("id", Kind::Uuid, true, "The event's id"),
    ("stream", Kind::Text, true, "The stream it was appended to"),
    ("revision", Kind::Count, true, "Its revision in that stream"),
    (
        "position",
        Kind::Count,
        true,
        "Its commit position in the log; it only grows",
    ),
    ("type", Kind::Text, true, "The event type"),
    (
        "created",
        Kind::Time,
        true,
        "When it was appended (RFC 3339, UTC, milliseconds)",
    ),
    (
        "contentType",
        Kind::Text,
        true,
        "`application/json` or `application/octet-stream`",
    ),
    (
        "data",
        Kind::Json,
        false,
        "The payload, when the event is JSON and its data parses",
    ),
    (
        "dataBase64",
        Kind::Text,
        false,
        "Otherwise the payload's bytes in base64 (standard alphabet, padded)",
    ),
    (
        "metadata",
        Kind::Json,
        false,
        "The metadata, when it parses as JSON (absent when empty)",
    ),
    (
        "metadataBase64",
        Kind::Text,
        false,
        "Otherwise non-empty metadata's bytes in base64",
    ),
];

/// An event's JSON envelope.
pub struct EventEnvelopeSchema;

impl PartialSchema for EventEnvelopeSchema {
    fn schema() -> RefOr<Schema> {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "An event as sinks receive it: `data` or `dataBase64`, and `metadata` or `metadataBase64` when it has metadata",
            ));
        for (name, kind, required, description) in FIELDS {
            let field = match kind {
                Kind::Uuid => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
                Kind::Text => ObjectBuilder::new().schema_type(Type::String),
                Kind::Count => ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(0)),
                Kind::Time => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
                Kind::Json => ObjectBuilder::new().schema_type(SchemaType::AnyValue),
            };
            object = object.property(name, field.description(Some(description)));
            if required {
                object = object.required(name);
            }
        }
        RefOr::T(object.into())
    }
}

impl ToSchema for EventEnvelopeSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("EventEnvelope")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::envelope::envelope;
    use crate::store::{ContentType, Position, RecordedEvent};

    fn event(data: &[u8], content_type: ContentType, metadata: &[u8]) -> RecordedEvent {
        RecordedEvent {
            id: uuid::Uuid::new_v4(),
            stream: "orders-1".into(),
            revision: 7,
            position: Position::new(42, 42),
            event_type: "OrderPlaced".into(),
            content_type,
            created: chrono::Utc::now(),
            data: data.to_vec().into(),
            metadata: metadata.to_vec().into(),
        }
    }

    #[test]
    fn every_key_of_an_envelope_is_described_and_the_required_ones_always_there() {
        let described: Vec<&str> = FIELDS.iter().map(|(name, ..)| *name).collect();
        for original in [
            event(br#"{"n":1}"#, ContentType::Json, br#"{"user":"ann"}"#),
            event(&[0, 159], ContentType::Binary, &[1, 2]),
            event(b"", ContentType::Binary, b""),
        ] {
            let shown = envelope(&original);
            let keys = shown.as_object().expect("an object");
            for key in keys.keys() {
                assert!(described.contains(&key.as_str()), "`{key}` undescribed");
            }
            for (name, _, required, _) in FIELDS {
                assert!(!required || keys.contains_key(name), "`{name}` missing");
            }
        }
    }
}
