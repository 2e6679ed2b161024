//! The HTTP sink: sends events to an HTTP endpoint.
//!
//! Two modes:
//!
//! * **per event** (default, compatible with KurrentDB's HTTP sink): one
//!   request per event with the event's data as the body and its details in
//!   `esdb-record-*` headers ([`request`]). The URL may hold `{stream}`,
//!   `{eventType}` and `{category}` ([`template`]). The events of a batch are
//!   sent one after the other, never in parallel, so they arrive in order.
//! * **batch** (`batch` set): one request per batch with a JSON array of
//!   [envelopes](crate::sinks::envelope). A refused batch is split in halves
//!   and resent until only the events refused on their own are rejected;
//!   receivers must be idempotent (at-least-once delivery needs that anyway).
//!
//! With `cloudEvents` both modes speak CloudEvents 1.0 ([`cloudevents`]).
//!
//! Answers ([`send`], actions in [`status`]): 2xx delivers; network errors,
//! timeouts, 5xx, 408 and 429 are retried with the
//! [retry policy](crate::sinks::retry) (honouring `Retry-After`) until they
//! succeed or `maxAttempts` runs out (then the events are rejected with the
//! last error); 401, 403 and 407 (refused credentials) fault the connector;
//! other answers (4xx, 3xx: the sink follows no redirects) reject the
//! event(s) with the status and the start of the body. `onStatus` changes
//! the action per status or class. Settings: [`HttpSinkConfig`], checked by `validate`;
//! their secrets are handled in [`secrets`].

pub mod cloudevents;
mod config;
pub mod header;
pub mod request;
pub mod secrets;
pub mod send;
mod sink;
pub mod status;
pub mod template;
mod validate;

pub use config::{HttpAuth, HttpBatchConfig, HttpMethod, HttpSinkConfig};
pub use header::HeaderSetting;
pub use sink::HttpSink;
