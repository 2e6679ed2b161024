//! Settings map → definition.

use std::collections::{BTreeMap, HashMap};

use super::keys::*;
use super::Settings;
use crate::connector::json_path::JsonPathTarget;
use crate::connector::{
    Affinity, CheckpointConfig, ConnectorDefinition, FilterConfig, MatcherConfig, OnFailure,
    Ordering, StartFrom,
};
use crate::sinks::console::{ConsoleFormat, ConsoleSinkConfig};
use crate::sinks::http::{HttpAuth, HttpMethod, HttpSinkConfig};
use crate::sinks::{ConfigError, SinkConfig};

/// Reads a settings map as a definition (see the module overview); the
/// error names the settings key at fault. Secrets are taken as given (a
/// `******` sent back is filled from the stored definition): [`validate`]
/// the definition once they are.
pub fn to_definition(settings: &Settings) -> Result<ConnectorDefinition, ConfigError> {
    let map = Lookup::new(settings)?;
    let kind = map.instance_type()?;
    map.refuse_unknown_keys(kind)?;
    if map.flag(TRANSFORMER_ENABLED, false)? {
        return Err(ConfigError::new(
            TRANSFORMER_ENABLED,
            "JavaScript transforms do not run here: write the transform as a WebAssembly \
             component (in Rust, C, JavaScript or Python), upload it with `PUT /modules/{name}` \
             and name it in the definition's `transforms` (the native shape of \
             `POST /connectors/{id}`)",
        ));
    }
    let sink = match kind {
        Kind::Http => SinkConfig::Http(http_sink(&map)?),
        Kind::Serilog => SinkConfig::Console(console_sink(&map)?),
    };
    let definition = ConnectorDefinition {
        sink,
        filter: filter(&map)?,
        transforms: Vec::new(),
        start: start(&map)?,
        checkpoint: checkpoint(&map)?,
        on_failure: OnFailure::default(),
        affinity: Affinity::default(),
        ordering: Ordering::default(),
    };
    Ok(definition)
}

/// Checks a definition read from settings, naming the settings key at
/// fault.
pub fn validate(definition: &ConnectorDefinition) -> Result<(), ConfigError> {
    definition.validate().map_err(name_settings_key)
}

/// The sinks a settings map can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Serilog,
}

/// The settings by their key in lower case, since KurrentDB matches keys
/// in any case.
struct Lookup<'a> {
    by_key: HashMap<String, (&'a str, &'a str)>,
}

impl<'a> Lookup<'a> {
    fn new(settings: &'a Settings) -> Result<Self, ConfigError> {
        let mut by_key = HashMap::new();
        for (key, value) in settings {
            if let Some((first, _)) =
                by_key.insert(key.to_lowercase(), (key.as_str(), value.as_str()))
            {
                return Err(ConfigError::new(
                    key.clone(),
                    format!("is given twice (also as `{first}`); keys match in any case"),
                ));
            }
        }
        Ok(Self { by_key })
    }

    /// The value of `key`, absent when missing or blank.
    fn get(&self, key: &str) -> Option<&'a str> {
        self.by_key
            .get(&key.to_lowercase())
            .map(|(_, value)| *value)
            .filter(|value| !value.trim().is_empty())
    }

    fn instance_type(&self) -> Result<Kind, ConfigError> {
        let Some(name) = self.get(INSTANCE_TYPE_NAME) else {
            return Err(ConfigError::new(
                INSTANCE_TYPE_NAME,
                format!("is required: `{HTTP_SINK}` or `{SERILOG_SINK}`"),
            ));
        };
        match name.trim().to_lowercase().as_str() {
            HTTP_SINK => Ok(Kind::Http),
            SERILOG_SINK => Ok(Kind::Serilog),
            other if OTHER_KURRENTDB_SINKS.contains(&other) => Err(ConfigError::new(
                INSTANCE_TYPE_NAME,
                format!(
                    "`{name}` is a KurrentDB sink this node does not have; it runs \
                     `{HTTP_SINK}` and `{SERILOG_SINK}` from settings, and any other \
                     destination as a custom sink component (`\"sink\": {{\"type\": \"wasm\", \
                     \"module\": \"...\"}}` in the native shape of `POST /connectors/{{id}}`)"
                ),
            )),
            _ => Err(ConfigError::new(
                INSTANCE_TYPE_NAME,
                format!("`{name}` is not a sink type; use `{HTTP_SINK}` or `{SERILOG_SINK}`"),
            )),
        }
    }

    fn refuse_unknown_keys(&self, kind: Kind) -> Result<(), ConfigError> {
        let own = match kind {
            Kind::Http => HTTP,
            Kind::Serilog => SERILOG,
        };
        let known = |key: &str| {
            COMMON
                .iter()
                .chain(own)
                .chain(IGNORED)
                .any(|k| k.eq_ignore_ascii_case(key))
        };
        let mut unknown: Vec<&str> = self
            .by_key
            .values()
            .map(|(key, _)| *key)
            .filter(|key| !known(key))
            .collect();
        unknown.sort_unstable();
        match unknown.first() {
            None => Ok(()),
            Some(key) => Err(ConfigError::new(
                *key,
                format!(
                    "is not a setting of `{}`; its settings are {}",
                    match kind {
                        Kind::Http => HTTP_SINK,
                        Kind::Serilog => SERILOG_SINK,
                    },
                    COMMON
                        .iter()
                        .chain(own)
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// A `"true"` / `"false"` setting, `default` when absent.
    fn flag(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(|v| v.trim().to_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(_) => Err(ConfigError::new(key, "must be `true` or `false`")),
        }
    }

    /// A whole number setting, absent when not given.
    fn number(&self, key: &str, example: &str) -> Result<Option<u64>, ConfigError> {
        self.get(key)
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    ConfigError::new(key, format!("must be a whole number, e.g. `{example}`"))
                })
            })
            .transpose()
    }

    /// One of `choices` (in any case), `None` when absent.
    fn choice(
        &self,
        key: &str,
        choices: &[&'static str],
    ) -> Result<Option<&'static str>, ConfigError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        choices
            .iter()
            .find(|c| c.eq_ignore_ascii_case(value.trim()))
            .copied()
            .map(Some)
            .ok_or_else(|| {
                ConfigError::new(
                    key,
                    format!(
                        "`{value}` is not one of {}",
                        choices
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }
}

/// The built-in filter from `subscription:filter:*`, read as KurrentDB
/// does: without an expression, an unspecified scope keeps everything but
/// system events and a given scope keeps everything; with one, the scope
/// says what it matches (stream names or event types) and the filter type
/// how (`regex` when unspecified, `prefix` for comma-separated prefixes,
/// `streamId` for one stream, `jsonPath` for a query on each record).
fn filter(map: &Lookup) -> Result<FilterConfig, ConfigError> {
    let scope = map
        .choice(FILTER_SCOPE, &["unspecified", "stream", "record"])?
        .unwrap_or("unspecified");
    let filter_type = map
        .choice(
            FILTER_TYPE,
            &["unspecified", "streamId", "regex", "prefix", "jsonPath"],
        )?
        .unwrap_or("unspecified");
    let Some(expression) = map.get(FILTER_EXPRESSION) else {
        return Ok(FilterConfig {
            include_system_events: scope != "unspecified",
            ..FilterConfig::default()
        });
    };
    if filter_type == "jsonPath" {
        if scope == "stream" {
            return Err(ConfigError::new(
                FILTER_SCOPE,
                "must be `record` with a `jsonPath` filter, which queries each record",
            ));
        }
        return Ok(FilterConfig {
            json_path: Some(expression.to_owned()),
            json_path_on: JsonPathTarget::Record,
            ..FilterConfig::default()
        });
    }
    let matcher = match filter_type {
        "streamId" => MatcherConfig::Regex(format!("^{}$", regex::escape(expression))),
        "prefix" => MatcherConfig::Prefixes(expression.split(',').map(str::to_owned).collect()),
        _ => MatcherConfig::Regex(expression.to_owned()),
    };
    let mut filter = FilterConfig::default();
    match (scope, filter_type) {
        ("stream", _) | (_, "streamId") => filter.streams = Some(matcher),
        ("record", _) => filter.event_types = Some(matcher),
        _ => {
            return Err(ConfigError::new(
                FILTER_SCOPE,
                "must be `stream` (the expression matches stream names) or `record` (it \
                 matches event types) when an expression is given",
            ))
        }
    }
    Ok(filter)
}

fn start(map: &Lookup) -> Result<StartFrom, ConfigError> {
    Ok(
        match map.choice(INITIAL_POSITION, &["earliest", "latest"])? {
            Some("earliest") => StartFrom::Start,
            _ => StartFrom::End,
        },
    )
}

fn checkpoint(map: &Lookup) -> Result<CheckpointConfig, ConfigError> {
    let mut checkpoint = CheckpointConfig::default();
    if let Some(ms) = map.number(AUTOCOMMIT_INTERVAL, "5000")? {
        checkpoint.every_ms = ms;
    }
    if let Some(records) = map.number(AUTOCOMMIT_RECORDS, "1000")? {
        checkpoint.every_events = records;
    }
    Ok(checkpoint)
}

/// The event type in this node's URL templates.
pub(super) const EVENT_TYPE_TEMPLATE: &str = "{eventType}";
/// The event type in KurrentDB's URL templates; a settings map shows the
/// first.
pub(super) const KURRENTDB_EVENT_TYPE_TEMPLATES: [&str; 2] = ["{event-type}", "{schema-subject}"];

fn http_sink(map: &Lookup) -> Result<HttpSinkConfig, ConfigError> {
    let Some(url) = map.get(URL) else {
        return Err(ConfigError::new(
            URL,
            "is required: where each event is sent, e.g. `https://api.example.com/{stream}`",
        ));
    };
    let url = KURRENTDB_EVENT_TYPE_TEMPLATES
        .iter()
        .fold(url.trim().to_owned(), |url, theirs| {
            url.replace(theirs, EVENT_TYPE_TEMPLATE)
        });
    let mut sink = HttpSinkConfig::new(url);
    if let Some(method) = map.get(METHOD) {
        sink.method = serde_json::from_value::<HttpMethod>(serde_json::Value::String(
            method.trim().to_owned(),
        ))
        .map_err(|e| ConfigError::new(METHOD, e.to_string()))?;
    }
    sink.headers = default_headers(map.get(DEFAULT_HEADERS))?;
    sink.auth = auth(map)?;
    Ok(sink)
}

/// `defaultHeaders`: `Name:Value` pairs separated by commas.
fn default_headers(
    value: Option<&str>,
) -> Result<BTreeMap<String, crate::sinks::http::HeaderSetting>, ConfigError> {
    let mut headers = BTreeMap::new();
    for pair in value.unwrap_or_default().split(',') {
        if pair.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = pair.split_once(':') else {
            return Err(ConfigError::new(
                DEFAULT_HEADERS,
                format!(
                    "`{pair}` is not `Name:Value`; give headers as `Name:Value` pairs \
                     separated by commas, e.g. `X-Source:kurrentdb,Accept:application/json`"
                ),
            ));
        };
        headers.insert(name.trim().to_owned(), value.trim().into());
    }
    Ok(headers)
}

fn auth(map: &Lookup) -> Result<Option<HttpAuth>, ConfigError> {
    let method = map
        .choice(AUTH_METHOD, &["None", "Basic", "Bearer"])?
        .unwrap_or("None");
    let required = |key: &str| {
        map.get(key).map(str::to_owned).ok_or_else(|| {
            ConfigError::new(key, format!("is required with `{AUTH_METHOD}: {method}`"))
        })
    };
    let unused = |keys: &[&str]| match keys.iter().find(|k| map.get(k).is_some()) {
        Some(key) => Err(ConfigError::new(
            *key,
            format!("has no effect with `{AUTH_METHOD}: {method}`; set the method or remove it"),
        )),
        None => Ok(()),
    };
    match method {
        "Basic" => {
            unused(&[AUTH_TOKEN])?;
            Ok(Some(HttpAuth::Basic {
                username: required(AUTH_USERNAME)?,
                password: required(AUTH_PASSWORD)?,
            }))
        }
        "Bearer" => {
            unused(&[AUTH_USERNAME, AUTH_PASSWORD])?;
            Ok(Some(HttpAuth::Bearer {
                token: required(AUTH_TOKEN)?,
            }))
        }
        _ => {
            unused(&[AUTH_USERNAME, AUTH_PASSWORD, AUTH_TOKEN])?;
            Ok(None)
        }
    }
}

fn console_sink(map: &Lookup) -> Result<ConsoleSinkConfig, ConfigError> {
    if map.get(SERILOG_CONFIGURATION).is_some() {
        return Err(ConfigError::new(
            SERILOG_CONFIGURATION,
            "a Serilog configuration does not apply here: the Serilog sink is this node's \
             console sink, which writes one line per event to the node's standard output; \
             to send events to Seq or another service, use `http-sink`",
        ));
    }
    Ok(ConsoleSinkConfig {
        format: ConsoleFormat::Text,
        include_data: map.flag(INCLUDE_RECORD_DATA, true)?,
    })
}

/// Names the settings key behind a definition field in an error about the
/// definition (e.g. `sink.url` is `url`).
pub fn name_settings_key(mut error: ConfigError) -> ConfigError {
    let key = match error.field.as_str() {
        f if f.starts_with("filter.") => FILTER_EXPRESSION,
        "checkpoint.everyMs" => AUTOCOMMIT_INTERVAL,
        "checkpoint.everyEvents" => AUTOCOMMIT_RECORDS,
        "sink.url" => URL,
        "sink.method" => METHOD,
        f if f.starts_with("sink.headers") => DEFAULT_HEADERS,
        "sink.auth.username" => AUTH_USERNAME,
        "sink.auth.password" => AUTH_PASSWORD,
        "sink.auth.token" => AUTH_TOKEN,
        _ => return error,
    };
    error.field = key.to_owned();
    error
}
