//! End-to-end tests: the real `connectors` binary, a real HTTP receiver on
//! loopback, real SIGKILLs.

mod support;

mod bad_input;
mod console;
mod crash;
mod delivery;
mod lifecycle;
mod outage;
mod wasm;
mod wasm_faults;
