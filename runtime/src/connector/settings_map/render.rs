//! Definition → settings map.

use super::keys::*;
use super::parse::{EVENT_TYPE_TEMPLATE, KURRENTDB_EVENT_TYPE_TEMPLATES};
use super::{to_definition, Settings};
use crate::connector::json_path::JsonPathTarget;
use crate::connector::{
    Affinity, CheckpointConfig, ConnectorDefinition, FilterConfig, MatcherConfig, OnFailure,
    StartFrom,
};
use crate::sinks::console::{ConsoleFormat, ConsoleSinkConfig};
use crate::sinks::http::{HttpAuth, HttpMethod, HttpSinkConfig};
use crate::sinks::retry::RetryConfig;
use crate::sinks::SinkConfig;

/// A definition that no settings map says: what it uses that a map cannot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "its definition uses what a KurrentDB settings map cannot say ({}); read and change it in \
     the native shape (`GET` / `PUT /connectors/{{id}}`)",
    features.join(", ")
)]
pub struct NoSettingsForm {
    pub features: Vec<String>,
}

/// The `instanceTypeName` of a definition's sink: `http-sink`,
/// `serilog-sink` (the console sink) or `wasm-sink` (a custom sink, which
/// KurrentDB does not have).
pub fn instance_type_name(definition: &ConnectorDefinition) -> &'static str {
    match definition.sink {
        SinkConfig::Http(_) => HTTP_SINK,
        SinkConfig::Console(_) => SERILOG_SINK,
        SinkConfig::Wasm(_) => "wasm-sink",
    }
}

/// The settings map that reads back as `definition` (give it redacted: the
/// map shows what it is given).
pub fn to_settings(definition: &ConnectorDefinition) -> Result<Settings, NoSettingsForm> {
    let mut out = Render {
        settings: Settings::new(),
        unsaid: Vec::new(),
    };
    out.set(INSTANCE_TYPE_NAME, instance_type_name(definition));
    match &definition.sink {
        SinkConfig::Http(http) => out.http(http),
        SinkConfig::Console(console) => out.console(console),
        SinkConfig::Wasm(_) => out.unsaid("a custom sink component"),
    }
    out.filter(&definition.filter);
    match definition.start {
        StartFrom::Start => out.set(INITIAL_POSITION, "earliest"),
        StartFrom::End => out.set(INITIAL_POSITION, "latest"),
        StartFrom::After(_) => out.unsaid("`start` at a log position"),
    }
    out.checkpoint(&definition.checkpoint);
    if !definition.transforms.is_empty() {
        out.unsaid("WebAssembly `transforms`");
    }
    if definition.on_failure != OnFailure::default() {
        out.unsaid("`onFailure`");
    }
    if definition.affinity != Affinity::default() {
        out.unsaid("`affinity`");
    }
    if !definition.ordering.is_strict() {
        out.unsaid("`ordering`");
    }
    if !out.unsaid.is_empty() {
        return Err(NoSettingsForm {
            features: out.unsaid,
        });
    }
    // The map must say everything: reading it back gives the definition.
    match to_definition(&out.settings) {
        Ok(read_back) if read_back == *definition => Ok(out.settings),
        _ => Err(NoSettingsForm {
            features: vec!["settings with no key in the map".into()],
        }),
    }
}

struct Render {
    settings: Settings,
    unsaid: Vec<String>,
}

impl Render {
    fn set(&mut self, key: &str, value: impl Into<String>) {
        self.settings.insert(key.to_owned(), value.into());
    }

    fn unsaid(&mut self, feature: &str) {
        self.unsaid.push(feature.to_owned());
    }

    fn http(&mut self, http: &HttpSinkConfig) {
        let url = http
            .url
            .replace(EVENT_TYPE_TEMPLATE, KURRENTDB_EVENT_TYPE_TEMPLATES[0]);
        if url.contains("{category}") {
            self.unsaid("the `{category}` URL template");
        }
        self.set(URL, url);
        if http.method != HttpMethod::Post {
            self.set(METHOD, format!("{:?}", http.method).to_uppercase());
        }
        if !http.headers.is_empty() {
            let headers: Vec<String> = http
                .headers
                .iter()
                .map(|(name, value)| format!("{name}:{}", value.value()))
                .collect();
            if headers.iter().any(|h| h.contains(',')) {
                self.unsaid("a header value with a comma");
            }
            self.set(DEFAULT_HEADERS, headers.join(","));
        }
        match &http.auth {
            None => {}
            Some(HttpAuth::Basic { username, password }) => {
                self.set(AUTH_METHOD, "Basic");
                self.set(AUTH_USERNAME, username.clone());
                self.set(AUTH_PASSWORD, password.clone());
            }
            Some(HttpAuth::Bearer { token }) => {
                self.set(AUTH_METHOD, "Bearer");
                self.set(AUTH_TOKEN, token.clone());
            }
        }
        let defaults = HttpSinkConfig::new(http.url.clone());
        if http.batch.is_some() {
            self.unsaid("the HTTP sink's `batch`");
        }
        if http.cloud_events {
            self.unsaid("the HTTP sink's `cloudEvents`");
        }
        if !http.on_status.is_empty() {
            self.unsaid("the HTTP sink's `onStatus`");
        }
        if http.timeout_ms != defaults.timeout_ms {
            self.unsaid("the HTTP sink's `timeoutMs`");
        }
        if http.retry != RetryConfig::default() {
            self.unsaid("the HTTP sink's `retry`");
        }
    }

    fn console(&mut self, console: &ConsoleSinkConfig) {
        if console.format != ConsoleFormat::Text {
            self.unsaid("the console sink's `json` format");
        }
        if !console.include_data {
            self.set(INCLUDE_RECORD_DATA, "false");
        }
    }

    fn filter(&mut self, filter: &FilterConfig) {
        if let Some(query) = &filter.json_path {
            let alone = filter.streams.is_none()
                && filter.event_types.is_none()
                && !filter.include_system_events;
            if filter.json_path_on != JsonPathTarget::Record || !alone {
                self.unsaid("`filter.jsonPath` on data, or beside other filters");
            }
            self.set(FILTER_SCOPE, "record");
            self.set(FILTER_TYPE, "jsonPath");
            self.set(FILTER_EXPRESSION, query.clone());
            return;
        }
        let (scope, matcher) = match (&filter.streams, &filter.event_types) {
            (Some(_), Some(_)) => {
                self.unsaid("a filter on both stream names and event types");
                return;
            }
            (Some(streams), None) => ("stream", streams),
            (None, Some(types)) => ("record", types),
            (None, None) => {
                if filter.include_system_events {
                    self.set(FILTER_SCOPE, "stream");
                }
                return;
            }
        };
        if filter.include_system_events {
            self.unsaid("`filter.includeSystemEvents` with a filter");
        }
        self.set(FILTER_SCOPE, scope);
        match matcher {
            MatcherConfig::Prefixes(prefixes) => {
                if prefixes.iter().any(|p| p.contains(',')) {
                    self.unsaid("a prefix with a comma");
                }
                self.set(FILTER_TYPE, "prefix");
                self.set(FILTER_EXPRESSION, prefixes.join(","));
            }
            MatcherConfig::Regex(regex) => {
                self.set(FILTER_TYPE, "regex");
                self.set(FILTER_EXPRESSION, regex.clone());
            }
        }
    }

    fn checkpoint(&mut self, checkpoint: &CheckpointConfig) {
        let defaults = CheckpointConfig::default();
        if checkpoint.every_ms != defaults.every_ms {
            self.set(AUTOCOMMIT_INTERVAL, checkpoint.every_ms.to_string());
        }
        if checkpoint.every_events != defaults.every_events {
            self.set(AUTOCOMMIT_RECORDS, checkpoint.every_events.to_string());
        }
    }
}
