//! The OpenAPI schemas of a connector definition, as `POST` and `PUT
//! /connectors/{id}` take it and every answer shows it: its top-level
//! fields, each described, `sink` with its `type`; the settings inside each
//! field are in the README's "Connector settings". A test keeps the list of
//! fields equal to the one the definition's parser accepts.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AllOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// The fields of a definition with their descriptions; `sink` comes first
/// and is the only one required.
const FIELDS: [(&str, &str); 8] = [
    ("sink", "Where events go: `{\"type\": \"http\", \"url\": ...}`, `{\"type\": \"console\"}` or `{\"type\": \"wasm\", \"module\": ...}`, with the settings of that type"),
    ("filter", "Which events go there (`streams`, `eventTypes`, `jsonPath`, `includeSystemEvents`); everything but system events by default"),
    ("transforms", "WebAssembly filters and transforms, run in order after the filter: `{\"module\": ..., \"config\": ..., \"secrets\": ...}`"),
    ("start", "Where a connector without a checkpoint starts reading: `\"start\"`, `\"end\"` or a log position"),
    ("checkpoint", "How often the delivered position is saved (`everyEvents`, `everyMs`)"),
    ("onFailure", "What happens to an event the sink refuses for good (dead-letter it, or stop)"),
    ("affinity", "Which members may run the connector (default `leader`)"),
    ("ordering", "In which order events reach the sink: `strict` (default) or keyed lanes"),
];

/// A connector definition.
pub struct ConnectorDefinitionSchema;

impl PartialSchema for ConnectorDefinitionSchema {
    fn schema() -> RefOr<Schema> {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A connector definition; secrets in answers are replaced by `******`",
            ))
            .required("sink");
        for (name, description) in FIELDS {
            let field: Schema = match name {
                "sink" => ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property(
                        "type",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(["http", "console", "wasm"])),
                    )
                    .required("type")
                    .description(Some(description))
                    .into(),
                "transforms" => ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::Object))
                    .description(Some(description))
                    .into(),
                // A string, a number or an object, depending on the field.
                _ => ObjectBuilder::new()
                    .schema_type(SchemaType::AnyValue)
                    .description(Some(description))
                    .into(),
            };
            object = object.property(name, field);
        }
        RefOr::T(object.into())
    }
}

impl ToSchema for ConnectorDefinitionSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ConnectorDefinition")
    }
}

/// The body of a create: a definition with `enable` and `name`, or
/// KurrentDB's `{"name", "settings"}`.
pub struct CreateConnectorSchema;

impl PartialSchema for CreateConnectorSchema {
    fn schema() -> RefOr<Schema> {
        let name = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("A name for people, e.g. `Orders to billing`"))
        };
        let extras = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "enable",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("Whether it starts at once (default `true`)")),
            )
            .property("name", name());
        let native = AllOfBuilder::new()
            .item(Ref::from_schema_name(ConnectorDefinitionSchema::name()))
            .item(extras);
        let settings = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("name", name())
            .property(
                "settings",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .description(Some(
                        "KurrentDB's settings map, e.g. `{\"instanceTypeName\": \"http-sink\", \"url\": \"https://example.com/hook\"}`; the connector is created stopped, as in KurrentDB (`POST /connectors/{id}/start`)",
                    )),
            )
            .required("settings");
        RefOr::T(OneOfBuilder::new().item(native).item(settings).into())
    }
}

impl ToSchema for CreateConnectorSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CreateConnector")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::ConnectorDefinition;

    /// The fields the definition's parser names when it refuses an
    /// unknown one.
    fn accepted_fields() -> Vec<String> {
        let error = serde_json::from_str::<ConnectorDefinition>(
            r#"{"sink": {"type": "console"}, "notAField": 1}"#,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        let listed = error
            .split_once("expected one of ")
            .and_then(|(_, rest)| rest.split(" at line").next())
            .unwrap_or_else(|| panic!("no field list in: {error}"));
        listed
            .split(", ")
            .map(|f| f.trim_matches('`').to_owned())
            .collect()
    }

    #[test]
    fn the_schema_names_every_field_the_parser_accepts() {
        let mut accepted = accepted_fields();
        accepted.sort();
        let mut documented: Vec<String> = FIELDS.iter().map(|(f, _)| (*f).to_owned()).collect();
        documented.sort();
        assert_eq!(documented, accepted);
    }
}
