//! Every performance target of the runtime in one run, side by side: one
//! row per target with the measured value, the target and whether it was
//! met, ratios taken between rows of this same run. Run with
//! `guest-examples/build.sh redact && cargo bench --bench speed`; the table
//! is printed as Markdown at the end (progress goes to standard error).
//! Results: docs/benchmarks.md, "All the targets in one run".
//!
//! # Processes
//!
//! - **This process**: an embedded node started as a library (the same
//!   `Node` the binary runs), serving the KurrentDB gRPC protocol on
//!   loopback; its management API is called in process (its router, so a
//!   refused request returns the API's own message); the appenders; and,
//!   for row 5, a sidecar node on the embedded node's gRPC port.
//! - **The receiver**: this binary started again with `SPEED_ROLE=receiver`
//!   (`receiver.rs`), so the receiver's work does not share the node's
//!   threads unnoticed. It counts events per run (`esdb-batch-size` or 1 per
//!   request), can hold requests for a service time, records latencies, and
//!   answers the counts over a control endpoint with a long poll, so this
//!   process does not spin while a row runs.
//! - **Node.js** for row 8: `tests/clients/node/baseline.mjs`.
//!
//! # Rows
//!
//! Before the first row, every event the rows read is appended (see
//! `workload.rs`), so the rates are catch-up rates. A delivery is timed
//! from the create request until the receiver counted the last event; the
//! connector is deleted after it.
//!
//! 1. batch of 1,000, no transform, embedded, and the store's raw `$all`
//!    read rate (`batch.rs`);
//! 2. the same with the `redact` component, against row 1 (`batch.rs`);
//! 3. component vs native (`hooks.rs`, measured elsewhere);
//! 4. per-event, 100 streams, 1 ms receiver, by stream vs strict
//!    (`ordering.rs`);
//! 5. sidecar over gRPC vs embedded, batch of 1,000 (`sidecar.rs`);
//! 6. append -> delivery latency at 1,000 events/s (`latency.rs`, which
//!    says where the clock starts and stops);
//! 7. 200 connectors (`hooks.rs`, measured elsewhere);
//! 8. the official Node.js client with `fetch`, batch and per event, vs
//!    this runtime (`baseline.rs`).
//!
//! # Sizes (environment)
//!
//! `SPEED_EVENTS` (200,000: rows 1, 2, 5 and 8's batch half),
//! `SPEED_SINGLE_EVENTS` (10,000: row 8's per-event half),
//! `SPEED_KEYED_EVENTS` (5,000 over 100 streams: row 4),
//! `SPEED_LATENCY_SECS` (10, after a 1 s warm-up: row 6),
//! `SPEED_DEADLINE_SECS` (600: how long one delivery may take before its
//! row says it stalled). With the defaults a run takes two to three
//! minutes on 2 vCPUs. `SPEED_ROWS` (e.g. `1,5`) runs only the rows listed
//! (row 1 also runs when 2, 5 or 8 is listed: they are measured against
//! it); the others are left out of the table.

#![allow(clippy::print_stdout)]

mod baseline;
mod batch;
mod context;
mod hooks;
mod latency;
mod ordering;
mod receiver;
mod receiver_process;
mod settings;
mod sidecar;
#[path = "../support/mod.rs"]
mod support;
mod table;
mod workload;

use context::Bench;

use receiver::{RECEIVER_ROLE, ROLE_VARIABLE};
use receiver_process::ReceiverProcess;
use settings::Settings;
use support::api::Api;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if std::env::var(ROLE_VARIABLE).as_deref() == Ok(RECEIVER_ROLE) {
        runtime.block_on(receiver::serve());
    } else {
        runtime.block_on(run());
    }
}

async fn run() {
    let settings = Settings::from_env();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let receiver = ReceiverProcess::start().await;
    let node = support::node::embedded_with_grpc(dir.path().join("embedded"), "embedded").await;
    let api = Api::of(&node);
    progress("appending the events");
    workload::append(node.store(), &settings).await;
    let bench = Bench {
        settings,
        receiver,
        node,
        api,
        dir: dir.path().to_owned(),
    };

    let wants = |row: u8| bench.settings.wants(row);
    let mut rows = Vec::new();
    let mut no_transform = None;
    if [1, 2, 5, 8].into_iter().any(wants) {
        progress("rows 1 and 2: batch delivery, without and with the `redact` component");
        let batch = batch::rows(&bench, wants(2)).await;
        no_transform = batch.no_transform;
        rows.extend(batch.rows);
    }
    if wants(3) {
        progress("row 3");
        rows.push(hooks::row_3(&bench).await);
    }
    if wants(4) {
        progress("row 4: per-event, strict vs by stream");
        rows.push(ordering::row(&bench).await);
    }
    if wants(5) {
        progress("row 5: sidecar");
        rows.push(sidecar::row(&bench, no_transform).await);
    }
    if wants(6) {
        progress("row 6: latency");
        rows.push(latency::row(&bench).await);
    }
    if wants(7) {
        progress("row 7");
        rows.push(hooks::row_7(&bench).await);
    }
    if wants(8) {
        progress("row 8: the Node.js baseline");
        rows.push(baseline::row(&bench, no_transform).await);
    }

    table::print(&rows);
    bench.node.supervisor().stop_all().await;
}

fn progress(what: &str) {
    eprintln!("speed: {what}");
}
