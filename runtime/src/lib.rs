//! The connector runtime: an event store, connectors kept as events in it, and
//! pipelines that deliver the store's events to sinks at least once and in
//! order.
//!
//! - [`store`]: the event-store trait and its embedded SQLite backend;
//! - [`connector`]: definitions and lifecycle as events, the repository;
//! - [`pipeline`]: subscription -> filter -> sink -> checkpoint;
//! - [`sinks`]: console and HTTP;
//! - [`outbound`]: where sinks may connect (the destination policy);
//! - [`activation`]: which pipelines run on this member;
//! - [`secrets`]: secrets encrypted at rest, masked in URLs;
//! - [`api`]: the HTTP management API; [`access`]: who may reach the API
//!   and the gRPC protocol, and over TLS; [`node`] wires everything together.

pub mod access;
pub mod activation;
pub mod api;
pub mod connector;
pub mod demo;
pub mod grpc;
pub mod modules;
pub mod node;
pub mod outbound;
pub mod pipeline;
pub mod secrets;
pub mod sinks;
pub mod store;
pub mod wasm;
