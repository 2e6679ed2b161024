//! What many connectors cost on one embedded node: N connectors, each with
//! the `redact` transform and an HTTP sink, 1,000 events each; how long
//! until all deliver, the node's memory, and its CPU and store appends when
//! idle. The measurement is `support::scale` (see its overview); this
//! prints it as a Markdown table.
//!
//! Run with `guest-examples/build.sh redact && cargo bench --bench idle`.
//! Environment: `IDLE_CONNECTORS` (200), `IDLE_EVENTS` (1000 per
//! connector), `IDLE_SETTLE_SECS` (5), `IDLE_SECS` (30), `IDLE_BINARY` (the
//! binary to start; default: the `connectors` binary this benchmark was
//! built with). Results: docs/benchmarks.md.

#![allow(clippy::print_stdout)]

mod support;

use support::scale::{measure_scale, ScaleSettings};

#[tokio::main]
async fn main() {
    let report = measure_scale(ScaleSettings::from_env()).await;
    println!("| what | result |");
    println!("|---|---|");
    for (what, result) in report.rows() {
        println!("| {what} | {result} |");
    }
}
