//! Sinks: where a connector's events go.
//!
//! A sink receives ordered batches of events from the pipeline and answers
//! with one [`DeliveryOutcome`] per event, in order. Retryable failures
//! (network errors, timeouts, 5xx, 408, 429) are retried inside the sink with
//! its [`retry::RetryPolicy`], reporting each attempt through
//! [`SinkContext::on_retry`] so the connector's status shows what is going on;
//! a sink only answers once every event of the batch was delivered or refused
//! for good. Refused events ([`DeliveryOutcome::Rejected`]) are dead-lettered
//! or fault the connector, as the connector says; the sink does not decide.
//!
//! The HTTP sink counts each request attempt in [`SinkContext::metrics`].
//!
//! Each sink is a folder with fixed roles: `config.rs` (settings, pure
//! validation) and `sink.rs` (the running sink).

pub mod console;
mod destinations;
pub mod envelope;
pub mod http;
pub mod retry;
pub mod wasm;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Deserializer, Serialize};

use crate::metrics::SinkMetrics;
use crate::outbound::DestinationPolicy;
use crate::store::RecordedEvent;
use crate::strict_de::{deserialize_tagged, Tagged};
use crate::wasm::SinkStage;

/// The settings of a connector's sink, tagged by `type` (read with
/// [`deserialize_tagged`], so an error names the field inside the sink).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SinkConfig {
    /// Prints events to standard output.
    Console(console::ConsoleSinkConfig),
    /// Sends events to an HTTP endpoint.
    Http(http::HttpSinkConfig),
    /// A custom sink component.
    Wasm(wasm::WasmSinkConfig),
}

impl Tagged for SinkConfig {
    const TAG: &'static str = "type";
    const VARIANTS: &'static [&'static str] = &["console", "http", "wasm"];
    const EXAMPLE: &'static str = r#"{"type": "http", "url": "https://example.com/hook"}"#;

    fn variant<'de, D: Deserializer<'de>>(variant: &str, fields: D) -> Result<Self, D::Error> {
        match variant {
            "console" => console::ConsoleSinkConfig::deserialize(fields).map(SinkConfig::Console),
            "http" => http::HttpSinkConfig::deserialize(fields).map(SinkConfig::Http),
            _ => wasm::WasmSinkConfig::deserialize(fields).map(SinkConfig::Wasm),
        }
    }
}

impl<'de> Deserialize<'de> for SinkConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_tagged(deserializer)
    }
}

impl SinkConfig {
    /// Checks the settings without any I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            SinkConfig::Console(c) => c.validate(),
            SinkConfig::Http(c) => c.validate(),
            SinkConfig::Wasm(c) => c.validate(),
        }
    }

    /// The settings with every secret replaced by [`REDACTED`].
    pub fn redacted(&self) -> Self {
        let mut shown = self.clone();
        for (_, value) in shown.secret_fields_mut() {
            *value = REDACTED.into();
        }
        shown
    }

    /// Fills secrets given as [`REDACTED`] from `previous`, so a client can
    /// send back what it read and keep the stored secrets, as long as the
    /// destination they protect is unchanged (else an error names the
    /// field).
    pub fn keep_secrets_from(&mut self, previous: &SinkConfig) -> Result<(), ConfigError> {
        match (self, previous) {
            (SinkConfig::Http(new), SinkConfig::Http(old)) => new.keep_secrets_from(old),
            (SinkConfig::Wasm(new), SinkConfig::Wasm(old)) => new.keep_secrets_from(old),
            _ => Ok(()),
        }
    }

    /// Every secret value with its field path, e.g. `sink.auth.token`.
    pub fn secret_fields_mut(&mut self) -> Vec<(String, &mut String)> {
        match self {
            SinkConfig::Console(_) => Vec::new(),
            SinkConfig::Http(c) => c.secret_fields_mut(),
            SinkConfig::Wasm(c) => wasm::secrets::secret_fields_mut("sink", &mut c.secrets),
        }
    }

    /// Builds the sink: the one way every sink is made. A custom (`wasm`)
    /// sink is given its `component`, instantiated and initialised (the
    /// pipeline makes it from the module); built-in sinks need none.
    pub fn build(
        &self,
        ctx: SinkContext,
        component: Option<SinkStage>,
    ) -> Result<Box<dyn Sink>, ConfigError> {
        match (self, component) {
            (SinkConfig::Console(c), _) => Ok(Box::new(console::ConsoleSink::new(c.clone(), ctx))),
            (SinkConfig::Http(c), _) => Ok(Box::new(http::HttpSink::new(c.clone(), ctx)?)),
            (SinkConfig::Wasm(c), Some(stage)) => Ok(Box::new(wasm::WasmSink::new(stage, c, ctx))),
            (SinkConfig::Wasm(_), None) => Err(ConfigError::new(
                "sink.module",
                "a custom sink needs its component, made from its module",
            )),
        }
    }
}

/// What the API shows instead of a secret.
pub use crate::secrets::REDACTED;

/// A setting that cannot be used, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {message}")]
pub struct ConfigError {
    /// The setting's path, e.g. `sink.url`.
    pub field: String,
    /// What is wrong, with a valid example.
    pub message: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What a running sink knows about its connector.
#[derive(Clone)]
pub struct SinkContext {
    pub connector_id: String,
    /// Called before each retry with the error that caused it.
    pub on_retry: Arc<dyn Fn(RetryNotice) + Send + Sync>,
    /// The connector faults on a refused event, so the sink sends nothing
    /// after one: it answers outcomes up to and including the first
    /// [`DeliveryOutcome::Rejected`] and leaves the rest unsent.
    pub stop_at_first_rejection: bool,
    /// Where the sink may connect.
    pub destinations: Arc<DestinationPolicy>,
    /// The member running the connector and its ownership epoch, sent with
    /// every request so a destination can tell hand-overs apart.
    pub owner: Option<OwnerTag>,
    /// Where the sink counts its requests and their latency.
    pub metrics: SinkMetrics,
}

/// Which member delivers, under which ownership epoch (it grows with every
/// hand-over of the connector).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerTag {
    pub member: String,
    pub epoch: u64,
}

impl SinkContext {
    /// A context that ignores retry notices (tests, benchmarks).
    pub fn detached(connector_id: impl Into<String>) -> Self {
        Self {
            connector_id: connector_id.into(),
            on_retry: Arc::new(|_| {}),
            stop_at_first_rejection: false,
            destinations: Arc::default(),
            owner: None,
            metrics: SinkMetrics::detached(),
        }
    }
}

/// A retry about to happen.
#[derive(Debug, Clone)]
pub struct RetryNotice {
    /// 1 for the first retry.
    pub attempt: u32,
    pub error: String,
    pub wait: Duration,
}

/// How many events a sink wants per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_events: usize,
    pub max_bytes: usize,
    /// How long to wait for more events once a batch has one.
    pub linger: Duration,
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// The destination refused the event for good.
    Rejected(Rejection),
}

/// Why an event was refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
    /// The HTTP status, for HTTP destinations.
    pub status: Option<u16>,
    /// The start of the destination's answer.
    pub response: Option<String>,
    /// The connector stops at this event whatever `onFailure` says (the
    /// destination refused the sink's credentials, say): the event is not
    /// dead-lettered and nothing after it is sent.
    pub stops_connector: bool,
}

impl Rejection {
    /// A refusal with only a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            status: None,
            response: None,
            stops_connector: false,
        }
    }
}

/// A failure that stops the connector (it becomes faulted); the text is
/// what its status shows.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The destination policy forbids where the sink would connect.
    #[error("{0}")]
    DestinationRefused(String),
    /// The settings cannot serve this batch (URL templates in batch mode).
    #[error("{0}")]
    Unsupported(&'static str),
    /// A custom sink component reported a fatal failure.
    #[error("the sink component failed: {0}")]
    ComponentFatal(String),
    /// A custom sink component trapped or broke one of its limits.
    #[error("the sink component failed: {0}")]
    ComponentBroke(#[source] crate::wasm::StageError),
    /// Writing the console output failed.
    #[error("console sink of connector `{connector}`: {what} failed: {source}")]
    Output {
        connector: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// A running sink.
#[async_trait]
pub trait Sink: Send {
    /// Another sink to the same destination, for one more delivery lane,
    /// sharing what can be shared (an HTTP client and its connections);
    /// `None` when each lane must build its own (a component instance).
    fn fork(&self) -> Option<Box<dyn Sink>> {
        None
    }

    /// The batch shape this sink wants.
    fn batch_limits(&self) -> BatchLimits;

    /// Delivers `batch` in order and answers one outcome per event, in order
    /// (fewer with [`SinkContext::stop_at_first_rejection`]).
    /// Retryable failures are retried here until they succeed or the retry
    /// policy gives up (then the events are [`DeliveryOutcome::Rejected`]).
    /// The future may be dropped at any await point (graceful stop).
    async fn deliver(&mut self, batch: &[RecordedEvent])
        -> Result<Vec<DeliveryOutcome>, SinkError>;
}
