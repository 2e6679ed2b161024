//! Settings of the HTTP sink (validated in [`super::validate`], secrets in
//! [`super::secrets`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::header::HeaderSetting;
use super::status::StatusActions;
use crate::sinks::retry::RetryConfig;
use crate::sinks::REDACTED;
use crate::strict_de::{deserialize_tagged, Tagged};

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

/// Settings of the HTTP sink.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpSinkConfig {
    /// Where to send events: an absolute http(s) URL. Outside batch mode it
    /// may contain `{stream}`, `{eventType}` and `{category}`, filled per
    /// event (percent-encoded as a path segment).
    pub url: String,
    /// `POST` (default), `PUT` or `PATCH`, in any case.
    #[serde(default = "default_method")]
    pub method: HttpMethod,
    /// Extra headers sent with every request; a value may be marked secret
    /// as `{"secret": "..."}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, HeaderSetting>,
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
    /// What to do with answers, per status (`"404"`) or class (`"4xx"`):
    /// `deliver`, `retry`, `reject` or `fault`; see [`super::status`] for
    /// the defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub on_status: StatusActions,
}

/// The HTTP method of the sink's requests, written in any case (`post`,
/// `POST`) and shown in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Post,
    Put,
    Patch,
}

impl<'de> Deserialize<'de> for HttpMethod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MethodVisitor;
        impl Visitor<'_> for MethodVisitor {
            type Value = HttpMethod;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`POST`, `PUT` or `PATCH`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HttpMethod, E> {
                match v.to_ascii_uppercase().as_str() {
                    "POST" => Ok(HttpMethod::Post),
                    "PUT" => Ok(HttpMethod::Put),
                    "PATCH" => Ok(HttpMethod::Patch),
                    _ => Err(E::unknown_variant(v, &["POST", "PUT", "PATCH"])),
                }
            }
        }
        deserializer.deserialize_str(MethodVisitor)
    }
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

/// How the sink authenticates, tagged by `type` (read with
/// [`deserialize_tagged`], so an error names the field inside `auth`).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
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

impl Tagged for HttpAuth {
    const TAG: &'static str = "type";
    const VARIANTS: &'static [&'static str] = &["basic", "bearer"];
    const EXAMPLE: &'static str = r#"{"type": "bearer", "token": "..."}"#;

    fn variant<'de, D: Deserializer<'de>>(variant: &str, fields: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Basic {
            username: String,
            password: String,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Bearer {
            token: String,
        }
        match variant {
            "basic" => Basic::deserialize(fields).map(|b| HttpAuth::Basic {
                username: b.username,
                password: b.password,
            }),
            _ => Bearer::deserialize(fields).map(|b| HttpAuth::Bearer { token: b.token }),
        }
    }
}

impl<'de> Deserialize<'de> for HttpAuth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_tagged(deserializer)
    }
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
            on_status: StatusActions::new(),
        }
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
            .field("on_status", &shown.on_status)
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
