//! End-to-end tests: the real `connectors` binary, a real HTTP receiver on
//! loopback, real SIGKILLs.

mod support;

mod bad_input;
mod bounded_work;
mod console;
mod crash;
mod delivery;
mod lifecycle;
mod official_client;
mod outage;
mod sidecar;
mod wasm;
mod wasm_faults;
