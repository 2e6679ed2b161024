//! Custom sinks: a WebAssembly component (world `sink` of `wit/`) that
//! delivers each batch itself, through outgoing HTTP requests allowed only
//! to the hosts in `allowHosts`. Its `secrets` (and a transform stage's)
//! are handled in [`secrets`], and its instance's limits (a transform
//! stage's too) in [`LimitsConfig`].

mod config;
mod limits;
pub mod secrets;
mod sink;

pub use config::{WasmBatchConfig, WasmSinkConfig};
pub use limits::LimitsConfig;
pub use sink::WasmSink;
