//! End-to-end tests: the real `connectors` binary, a real HTTP receiver on
//! loopback, real SIGKILLs.

mod support;

mod access_api;
mod access_grpc;
mod access_tls;
mod bad_input;
mod bounded_work;
mod cli;
mod cluster;
mod config_file;
mod console;
mod corrupt_record;
mod crash;
mod data_lock;
mod delivery;
mod destinations;
mod error_fixtures;
mod first_hour;
mod keyed_delivery;
mod kurrent_api;
mod lifecycle;
mod logs;
mod metrics;
mod official_client;
mod official_python_client;
mod openapi;
mod outage;
mod refusals;
mod replay;
mod secrets;
mod sidecar;
mod stage_checks;
mod status_truth;
mod ui;
mod wasm;
mod wasm_faults;
mod wasm_limits;
