//! Custom sinks: a WebAssembly component (world `sink` of `wit/`) that
//! delivers each batch itself, through outgoing HTTP requests allowed only
//! to the hosts in `allowHosts`.

mod config;
mod sink;

pub use config::{WasmBatchConfig, WasmSinkConfig};
pub use sink::WasmSink;
