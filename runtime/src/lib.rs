//! The connector runtime: an event store, connectors kept as events in it, and
//! pipelines that deliver the store's events to sinks at least once and in
//! order.
//!
//! - [`store`]: the event-store trait, its embedded SQLite backend and its
//!   KurrentDB backend (sidecar mode); [`grpc`]: the KurrentDB gRPC protocol
//!   served over the embedded store;
//! - [`connector`]: definitions and lifecycle as events, the repository;
//! - [`pipeline`]: subscription -> filter -> WebAssembly stages -> sink ->
//!   checkpoint; [`activation`]: which pipelines run on this member;
//! - [`sinks`]: console, HTTP and custom (WebAssembly) sinks; [`outbound`]:
//!   where sinks may connect (the destination policy);
//! - [`wasm`]: the WebAssembly host; [`modules`]: uploaded components;
//! - [`secrets`]: secrets encrypted at rest, masked in text;
//! - [`api`]: the HTTP management API; [`ui`]: its status page in the
//!   browser; [`access`]: who may reach the API
//!   and the gRPC protocol; [`tls`]: both listeners over TLS;
//! - [`strict_de`]: deserialization that keeps the path of a bad setting;
//! - [`metrics`]: the Prometheus metrics of the node and its connectors;
//! - [`node`] wires everything together; [`demo`] is the demo connector;
//! - [`cli`]: the `connectors` command's options and its client of a
//!   running node's API.

pub mod access;
pub mod activation;
pub mod api;
pub mod backoff;
pub mod cli;
pub mod connector;
pub mod demo;
pub mod grpc;
pub mod metrics;
pub mod modules;
pub mod node;
pub mod outbound;
pub mod pipeline;
pub mod secrets;
pub mod sinks;
pub mod store;
pub mod strict_de;
pub mod tls;
pub mod ui;
pub mod wasm;
