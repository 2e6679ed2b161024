//! Settings of the HTTP sink and their validation.

use std::collections::BTreeMap;
use std::fmt;

use reqwest::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::request::is_printable_ascii;
use super::secrets::is_sensitive_header;
use super::template::UrlTemplate;
use crate::sinks::retry::RetryConfig;
use crate::sinks::{ConfigError, REDACTED};

fn default_method() -> HttpMethod {
    HttpMethod::Post
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_cloud_events() -> bool {
    false
}

fn default_max_events() -> usize {
    1000
}

fn default_max_bytes() -> usize {
    1024 * 1024
}

fn default_linger_ms() -> u64 {
    50
}

/// The longest request timeout allowed.
const MAX_TIMEOUT_MS: u64 = 3_600_000;
/// The longest batch linger allowed.
const MAX_LINGER_MS: u64 = 60_000;

/// Settings of the HTTP sink.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpSinkConfig {
    /// Where to send events: an absolute http(s) URL. Outside batch mode it
    /// may contain `{stream}`, `{eventType}` and `{category}`, filled per
    /// event (percent-encoded as a path segment).
    pub url: String,
    /// `POST` (default), `PUT` or `PATCH`.
    #[serde(default = "default_method")]
    pub method: HttpMethod,
    /// Extra headers sent with every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// How to authenticate; absent = no `authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    /// How long one request may take (connecting, sending, answering), in
    /// milliseconds; a request that takes longer is retried.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Send JSON arrays of events, one request per batch; absent = one
    /// request per event, its data as the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<HttpBatchConfig>,
    /// Send events as CloudEvents 1.0 (binary mode per event, a
    /// `application/cloudevents-batch+json` array in batch mode).
    #[serde(default = "default_cloud_events")]
    pub cloud_events: bool,
    /// How to retry network errors, timeouts, 5xx, 408 and 429.
    #[serde(default)]
    pub retry: RetryConfig,
}

/// The HTTP method of the sink's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Post,
    Put,
    Patch,
}

impl HttpMethod {
    pub fn as_reqwest(self) -> reqwest::Method {
        match self {
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
        }
    }
}

/// How the sink authenticates, tagged by `type`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum HttpAuth {
    /// `authorization: Basic base64(username:password)`.
    Basic {
        /// The user name (no `:`).
        username: String,
        /// The password (a secret: shown as `******`).
        password: String,
    },
    /// `authorization: Bearer <token>`.
    Bearer {
        /// The token (a secret: shown as `******`).
        token: String,
    },
}

/// Batch mode: one request per batch, a JSON array of events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpBatchConfig {
    /// The most events per request.
    #[serde(default = "default_max_events")]
    pub max_events: usize,
    /// The most event bytes (data and metadata) per request.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// How long to wait for more events once a batch has one, in
    /// milliseconds.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
}

impl Default for HttpBatchConfig {
    fn default() -> Self {
        Self {
            max_events: default_max_events(),
            max_bytes: default_max_bytes(),
            linger_ms: default_linger_ms(),
        }
    }
}

impl HttpSinkConfig {
    /// Per-event settings with every default, sending to `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: default_method(),
            headers: BTreeMap::new(),
            auth: None,
            timeout_ms: default_timeout_ms(),
            batch: None,
            cloud_events: default_cloud_events(),
            retry: RetryConfig::default(),
        }
    }

    /// Checks the settings without any I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_url()?;
        self.validate_headers()?;
        if let Some(auth) = &self.auth {
            auth.validate()?;
        }
        if self.timeout_ms == 0 || self.timeout_ms > MAX_TIMEOUT_MS {
            return Err(ConfigError::new(
                "sink.timeoutMs",
                format!("must be between 1 and {MAX_TIMEOUT_MS} milliseconds, e.g. `10000`"),
            ));
        }
        if let Some(batch) = &self.batch {
            batch.validate()?;
        }
        self.retry.validate("sink.retry")
    }

    fn validate_url(&self) -> Result<(), ConfigError> {
        let field = "sink.url";
        let example = "e.g. `https://example.com/hook`";
        let template = UrlTemplate::parse(&self.url)
            .map_err(|m| ConfigError::new(field, format!("{m}, {example}")))?;
        if template.has_templates() && self.batch.is_some() {
            return Err(ConfigError::new(
                field,
                "cannot use `{stream}`, `{eventType}` or `{category}` in batch mode: a batch holds \
                 events of many streams and goes to one URL; use a fixed URL, e.g. \
                 `https://example.com/events`, or remove `batch`",
            ));
        }
        let not_absolute =
            || ConfigError::new(field, format!("must be an absolute http(s) URL, {example}"));
        let first = url::Url::parse(&template.render_with("a")).map_err(|_| not_absolute())?;
        if !matches!(first.scheme(), "http" | "https") || first.host_str().is_none() {
            return Err(not_absolute());
        }
        let second = url::Url::parse(&template.render_with("b")).map_err(|_| not_absolute())?;
        if first.host_str() != second.host_str() || first.port() != second.port() {
            return Err(ConfigError::new(
                field,
                "may use templates in the path and query only, e.g. \
                 `https://example.com/streams/{stream}`",
            ));
        }
        if !first.username().is_empty() || first.password().is_some() {
            return Err(ConfigError::new(
                field,
                "must not contain credentials (they would show in logs and the API); \
                 use `auth`, e.g. `{\"type\":\"basic\",\"username\":\"u\",\"password\":\"p\"}`",
            ));
        }
        Ok(())
    }

    fn validate_headers(&self) -> Result<(), ConfigError> {
        for (name, value) in &self.headers {
            let field = format!("sink.headers.{name}");
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConfigError::new(
                    &field,
                    "is not a valid header name (letters, digits and `-`), e.g. `x-api-key`",
                )
            })?;
            if is_reserved(header.as_str(), self.auth.is_some()) {
                return Err(ConfigError::new(
                    &field,
                    "is set by the sink itself and cannot be given (`authorization` comes from \
                     `auth`); use another header, e.g. `x-source`",
                ));
            }
            if !is_printable_ascii(value) || HeaderValue::from_str(value).is_err() {
                return Err(ConfigError::new(
                    &field,
                    "must be printable ASCII without line breaks, e.g. `orders-service`",
                ));
            }
            if value == REDACTED && is_sensitive_header(name) {
                return Err(secret_placeholder(&field));
            }
        }
        Ok(())
    }
}

/// Headers the sink sets itself (`authorization` too when `auth` is set).
fn is_reserved(name: &str, has_auth: bool) -> bool {
    const SET_BY_SINK: [&str; 9] = [
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
    ];
    SET_BY_SINK.contains(&name)
        || name.starts_with("esdb-")
        || name.starts_with("ce-")
        || (has_auth && name == "authorization")
}

fn secret_placeholder(field: &str) -> ConfigError {
    ConfigError::new(
        field,
        format!("is the redacted placeholder `{REDACTED}` and there is no stored secret to keep; give the secret itself"),
    )
}

impl HttpAuth {
    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            HttpAuth::Basic { username, password } => {
                if username.is_empty()
                    || username.contains(':')
                    || username.chars().any(char::is_control)
                {
                    return Err(ConfigError::new(
                        "sink.auth.username",
                        "must be a non-empty name without `:` or control characters, e.g. `ingest`",
                    ));
                }
                if password == REDACTED {
                    return Err(secret_placeholder("sink.auth.password"));
                }
                if password.chars().any(char::is_control) {
                    return Err(ConfigError::new(
                        "sink.auth.password",
                        "must not contain control characters, e.g. `s3cret`",
                    ));
                }
            }
            HttpAuth::Bearer { token } => {
                if token == REDACTED {
                    return Err(secret_placeholder("sink.auth.token"));
                }
                if token.is_empty() || !is_printable_ascii(token) || token.contains(' ') {
                    return Err(ConfigError::new(
                        "sink.auth.token",
                        "must be non-empty printable ASCII without spaces, e.g. `eyJhbGciOi...`",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl HttpBatchConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_events == 0 {
            return Err(ConfigError::new(
                "sink.batch.maxEvents",
                "must be at least 1, e.g. `1000`",
            ));
        }
        if self.max_bytes == 0 {
            return Err(ConfigError::new(
                "sink.batch.maxBytes",
                "must be at least 1 byte, e.g. `1048576` (1 MiB)",
            ));
        }
        if self.linger_ms > MAX_LINGER_MS {
            return Err(ConfigError::new(
                "sink.batch.lingerMs",
                format!("must be at most {MAX_LINGER_MS} milliseconds, e.g. `50`"),
            ));
        }
        Ok(())
    }
}

/// Shows the settings with their secrets redacted.
impl fmt::Debug for HttpSinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.redacted();
        f.debug_struct("HttpSinkConfig")
            .field("url", &shown.url)
            .field("method", &shown.method)
            .field("headers", &shown.headers)
            .field("auth", &shown.auth)
            .field("timeout_ms", &shown.timeout_ms)
            .field("batch", &shown.batch)
            .field("cloud_events", &shown.cloud_events)
            .field("retry", &shown.retry)
            .finish()
    }
}

/// Shows the settings with their secrets redacted.
impl fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &REDACTED)
                .finish(),
            HttpAuth::Bearer { .. } => f.debug_struct("Bearer").field("token", &REDACTED).finish(),
        }
    }
}
