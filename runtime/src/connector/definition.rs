//! A connector's settings, as the API accepts them and the store keeps them.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::affinity::Affinity;
use super::json_path::{JsonPathFilter, JsonPathTarget};
use super::ordering::Ordering;
use crate::modules::ModuleRef;
use crate::sinks::wasm::secrets::{validate_secrets, ComponentSecrets};
pub use crate::sinks::wasm::LimitsConfig;
use crate::sinks::{ConfigError, SinkConfig};
use crate::store::{Matcher, Pattern, Position, SubscriptionFilter};
use crate::strict_de::KeySeed;

/// Everything that defines a connector, except whether it is enabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectorDefinition {
    /// Where events go.
    pub sink: SinkConfig,
    /// Which events go there; everything but system events by default.
    #[serde(default)]
    pub filter: FilterConfig,
    /// WebAssembly filters and transforms, run in order after the built-in
    /// filter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<TransformConfig>,
    /// Where a connector without a checkpoint starts reading.
    #[serde(default)]
    pub start: StartFrom,
    /// How often the delivered position is saved.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    /// What happens to an event the sink refuses for good.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Which members may run it (default `leader`).
    #[serde(default, skip_serializing_if = "Affinity::is_default")]
    pub affinity: Affinity,
    /// In which order events reach the sink (default `strict`).
    #[serde(default, skip_serializing_if = "Ordering::is_strict")]
    pub ordering: Ordering,
}

impl ConnectorDefinition {
    /// Checks every setting without I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.sink.validate()?;
        self.filter.validate()?;
        for (i, transform) in self.transforms.iter().enumerate() {
            transform.validate(&format!("transforms[{i}]"))?;
        }
        self.validate_secret_values()?;
        self.ordering.validate()?;
        self.checkpoint.validate()
    }

    /// Every module the connector uses.
    pub fn modules(&self) -> Vec<&ModuleRef> {
        let mut modules: Vec<&ModuleRef> = self.transforms.iter().map(|t| &t.module).collect();
        if let SinkConfig::Wasm(sink) = &self.sink {
            modules.push(&sink.module);
        }
        modules
    }
}

/// A WebAssembly filter or transform stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransformConfig {
    /// The module: `name` (its latest upload) or `name@sha256:<hex>`.
    pub module: ModuleRef,
    /// Settings given to the component's `init`, any JSON object.
    #[serde(default)]
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Secret settings (strings), merged into `config` for `init`; stored
    /// encrypted and shown as `******`.
    #[serde(default, skip_serializing_if = "ComponentSecrets::is_empty")]
    pub secrets: ComponentSecrets,
    /// Limits of the component's instance.
    #[serde(default)]
    pub limits: LimitsConfig,
}

impl TransformConfig {
    /// Checks the stage's settings; `field` is its path, e.g. `transforms[0]`.
    pub fn validate(&self, field: &str) -> Result<(), ConfigError> {
        validate_secrets(field, &self.config, &self.secrets)?;
        self.limits.validate(&format!("{field}.limits"))
    }
}

/// The built-in filter. Every part given must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FilterConfig {
    /// Stream names to keep, e.g. `{"prefixes": ["orders-"]}` or `{"regex": "^orders-\\d+$"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<MatcherConfig>,
    /// Event types to keep, same shape as `streams`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<MatcherConfig>,
    /// A JSONPath query (RFC 9535) on the event's JSON data; the event passes
    /// when it selects at least one node. A filter at the root, such as
    /// `$[?(@.total > 100)]`, tests the data object itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    /// What `jsonPath` queries: `data` (the event's JSON data, the default)
    /// or `record` (KurrentDB's record shape, `{"value": data, "streamId",
    /// "schemaInfo": {"subject": type}, "headers": metadata, ...}`, as
    /// KurrentDB Connectors' `jsonPath` filters query it).
    #[serde(default, skip_serializing_if = "JsonPathTarget::is_data")]
    pub json_path_on: JsonPathTarget,
    /// Deliver `$`-prefixed system event types too.
    #[serde(default)]
    pub include_system_events: bool,
}

/// Prefixes or a regular expression: `{"prefixes": [...]}` or
/// `{"regex": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum MatcherConfig {
    /// Names that start with one of these.
    Prefixes(Vec<String>),
    /// Names this regular expression matches.
    Regex(String),
}

/// The shape of a [`MatcherConfig`], as errors show it.
const MATCHER_SHAPE: &str = r#"an object with `prefixes` or `regex`, e.g. `{"prefixes": ["orders-"]}` or `{"regex": "^orders-\d+$"}`"#;

/// Hand-written so that a wrong shape says what the right one is, and an
/// error inside names its field (`filter.streams.prefixes[0]`).
impl<'de> Deserialize<'de> for MatcherConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MatcherVisitor;
        impl<'de> Visitor<'de> for MatcherVisitor {
            type Value = MatcherConfig;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(MATCHER_SHAPE)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<MatcherConfig, A::Error> {
                Err(de::Error::custom(format!(
                    "got an array; expected {MATCHER_SHAPE}"
                )))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<MatcherConfig, E> {
                Err(E::custom(format!("got a string; expected {MATCHER_SHAPE}")))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MatcherConfig, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key_seed(KeySeed(&["prefixes", "regex"]))? {
                    let matcher = match key {
                        "prefixes" => MatcherConfig::Prefixes(map.next_value()?),
                        _ => MatcherConfig::Regex(map.next_value()?),
                    };
                    if found.replace(matcher).is_some() {
                        return Err(de::Error::custom(format!(
                            "give either `prefixes` or `regex`, not both; expected {MATCHER_SHAPE}"
                        )));
                    }
                }
                found.ok_or_else(|| {
                    de::Error::custom(format!("got an empty object; expected {MATCHER_SHAPE}"))
                })
            }
        }
        deserializer.deserialize_any(MatcherVisitor)
    }
}

impl MatcherConfig {
    fn compile(&self, field: &str) -> Result<Matcher, ConfigError> {
        match self {
            MatcherConfig::Prefixes(p) if p.is_empty() || p.iter().any(String::is_empty) => {
                Err(ConfigError::new(
                    format!("{field}.prefixes"),
                    "must list at least one non-empty prefix, e.g. `[\"orders-\"]`",
                ))
            }
            MatcherConfig::Prefixes(p) => Ok(Matcher::Prefixes(p.clone())),
            MatcherConfig::Regex(r) => Pattern::new(r).map(Matcher::Regex).map_err(|e| {
                ConfigError::new(
                    format!("{field}.regex"),
                    format!("is not a valid regular expression ({e}); e.g. `^orders-\\d+$`"),
                )
            }),
        }
    }
}

impl FilterConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.compile().map(|_| ())
    }

    /// The store-side part of the filter and the JSONPath part.
    pub fn compile(&self) -> Result<CompiledFilter, ConfigError> {
        let stream = self
            .streams
            .as_ref()
            .map(|m| m.compile("filter.streams"))
            .transpose()?;
        let event_type = self
            .event_types
            .as_ref()
            .map(|m| m.compile("filter.eventTypes"))
            .transpose()?;
        let json_path = self
            .json_path
            .as_deref()
            .map(|query| JsonPathFilter::parse_on(query, self.json_path_on))
            .transpose()?;
        Ok(CompiledFilter {
            store: SubscriptionFilter {
                stream,
                event_type,
                include_system_events: self.include_system_events,
                ..SubscriptionFilter::default()
            },
            json_path,
        })
    }
}

/// A validated filter, ready to run.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    pub store: SubscriptionFilter,
    pub json_path: Option<JsonPathFilter>,
}

/// Where a connector without a checkpoint starts: `"start"`, `"end"` or a
/// log position (the connector delivers events after it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartFrom {
    #[default]
    Start,
    End,
    After(Position),
}

impl Serialize for StartFrom {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StartFrom::Start => serializer.serialize_str("start"),
            StartFrom::End => serializer.serialize_str("end"),
            StartFrom::After(p) => serializer.serialize_u64(p.commit),
        }
    }
}

impl<'de> Deserialize<'de> for StartFrom {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StartVisitor;
        impl Visitor<'_> for StartVisitor {
            type Value = StartFrom;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`\"start\"`, `\"end\"` or a log position such as `1234`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StartFrom, E> {
                match v {
                    "start" => Ok(StartFrom::Start),
                    "end" => Ok(StartFrom::End),
                    other => other
                        .parse::<u64>()
                        .map(|p| StartFrom::After(Position::new(p, p)))
                        .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StartFrom, E> {
                Ok(StartFrom::After(Position::new(v, v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StartFrom, E> {
                u64::try_from(v)
                    .map(|p| StartFrom::After(Position::new(p, p)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
        }
        deserializer.deserialize_any(StartVisitor)
    }
}

/// When the delivered position is saved: after `everyEvents` delivered events
/// or `everyMs` milliseconds, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckpointConfig {
    /// Events (delivered or filtered out) between two checkpoints.
    #[serde(default = "CheckpointConfig::default_every_events")]
    pub every_events: u64,
    /// Milliseconds between two checkpoints while there is progress.
    #[serde(default = "CheckpointConfig::default_every_ms")]
    pub every_ms: u64,
}

impl CheckpointConfig {
    fn default_every_events() -> u64 {
        1000
    }
    fn default_every_ms() -> u64 {
        1000
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.every_events == 0 {
            return Err(ConfigError::new(
                "checkpoint.everyEvents",
                "must be at least 1, e.g. `1000`",
            ));
        }
        if self.every_ms < 10 {
            return Err(ConfigError::new(
                "checkpoint.everyMs",
                "must be at least 10 milliseconds, e.g. `1000`",
            ));
        }
        Ok(())
    }
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            every_events: Self::default_every_events(),
            every_ms: Self::default_every_ms(),
        }
    }
}

/// What to do with an event the sink refuses for good.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Write it to `$connectors/{id}/dead-letters` and go on.
    #[default]
    DeadLetter,
    /// Stop the connector as faulted, with the error in its status.
    Fault,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn start_accepts_names_and_positions() {
        let parse = |v: serde_json::Value| serde_json::from_value::<StartFrom>(v);
        assert_eq!(parse(json!("start")).expect("start"), StartFrom::Start);
        assert_eq!(parse(json!("end")).expect("end"), StartFrom::End);
        assert_eq!(
            parse(json!(12)).expect("12"),
            StartFrom::After(Position::new(12, 12))
        );
        assert_eq!(
            parse(json!("12")).expect("\"12\""),
            StartFrom::After(Position::new(12, 12))
        );
        let error = parse(json!("yesterday")).expect_err("invalid");
        assert!(
            error.to_string().contains("a log position such as `1234`"),
            "{error}"
        );
        assert!(parse(json!(-1)).is_err());
    }

    #[test]
    fn validation_names_the_setting() {
        let definition = |v: serde_json::Value| {
            serde_json::from_value::<ConnectorDefinition>(v).expect("definition")
        };
        let bad = [
            (
                json!({ "sink": { "type": "console" }, "filter": { "streams": { "prefixes": [] } } }),
                "filter.streams.prefixes",
            ),
            (
                json!({ "sink": { "type": "console" }, "filter": { "eventTypes": { "regex": "[" } } }),
                "filter.eventTypes.regex",
            ),
            (
                json!({ "sink": { "type": "console" }, "checkpoint": { "everyEvents": 0 } }),
                "checkpoint.everyEvents",
            ),
            (
                json!({ "sink": { "type": "console" }, "checkpoint": { "everyMs": 1 } }),
                "checkpoint.everyMs",
            ),
        ];
        for (value, field) in bad {
            let error = definition(value).validate().expect_err(field);
            assert_eq!(error.field, field);
            assert!(error.message.contains("e.g."), "{error}");
        }
    }

    #[test]
    fn filters_take_dotnet_regular_expressions() {
        let definition: ConnectorDefinition = serde_json::from_value(json!({
            "sink": { "type": "console" },
            "filter": { "streams": { "regex": "^orders-(?!test-)" } }
        }))
        .expect("definition");
        let compiled = definition.filter.compile().expect("a look-ahead compiles");
        let streams = compiled.store.stream.expect("a stream matcher");
        assert!(streams.matches("orders-1"));
        assert!(!streams.matches("orders-test-1"));
    }
}
