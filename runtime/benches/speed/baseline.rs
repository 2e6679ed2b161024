//! Row 8: what a KurrentDB user writes today, side by side with this
//! runtime. `tests/clients/node/baseline.mjs` (the official Node.js
//! client's `subscribeToAll` with a stream-prefix filter, and `fetch`)
//! reads from the embedded node's gRPC port and posts to the same receiver:
//!
//! - batch: the `SPEED_EVENTS` orders, against row 1's rate (the same
//!   events through the same receiver);
//! - per event: the `SPEED_SINGLE_EVENTS` events, against a per-event
//!   connector delivering them in this run.
//!
//! The script times itself (see its header); the receiver's count for each
//! of its runs is checked against what it says it sent. Needs `node` (20 or
//! later) and the client package, installed with `npm ci` from the
//! committed lockfile when `node_modules` is missing, as the e2e tests do;
//! without them the row says why.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokio::process::Command;

use crate::context::{definition, per_event_sink, Bench, NoRate, ORDERS, SINGLES};
use crate::table::{rate, ratio, thousands, Row};

const ROW: &str = "8. vs the official Node.js client + `fetch` (batch of 1,000; per event)";
const TARGET: &str = ">= 10x in batch, >= 3x per event";

/// What `baseline.mjs` prints.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    events: u64,
    per_second: f64,
}

pub async fn row(bench: &Bench, runtime_batch: Option<f64>) -> Row {
    let Some(runtime_batch) = runtime_batch else {
        return Row::not_available(ROW, TARGET, "no row 1 to compare with".into());
    };
    let script_dir = match client_installed().await {
        Ok(dir) => dir,
        Err(why) => return Row::not_available(ROW, TARGET, why),
    };
    let Some(grpc) = bench.node.grpc_addr() else {
        return Row::not_available(ROW, TARGET, "the embedded node serves no gRPC".into());
    };
    // The scheme the client's README uses.
    let connection = format!("kurrentdb://{grpc}?tls=false");
    let singles = bench.settings.single_events;
    let runtime_single = match bench
        .deliver(
            &bench.api,
            "per-event",
            definition(per_event_sink(bench.receiver.url("per-event")), SINGLES),
            singles,
        )
        .await
    {
        Ok(rate) => rate,
        Err(NoRate(why)) => return Row::not_available(ROW, TARGET, format!("per-event: {why}")),
    };
    let runs = [
        ("batch", ORDERS, bench.settings.events),
        ("per-event", SINGLES, singles),
    ];
    let mut node_rates = Vec::new();
    for (mode, prefix, events) in runs {
        let run = format!("node-{mode}");
        let report = match run_script(
            &script_dir,
            mode,
            &connection,
            prefix,
            events,
            &bench.receiver.url(&run),
        )
        .await
        {
            Ok(report) => report,
            Err(why) => return Row::not_available(ROW, TARGET, format!("Node.js {mode}: {why}")),
        };
        let counted = bench.receiver.counts(&run).await.events;
        if report.events != events || counted != events {
            return Row::not_available(
                ROW,
                TARGET,
                format!(
                    "Node.js {mode}: sent {} and the receiver counted {counted} of {events} events",
                    report.events
                ),
            );
        }
        node_rates.push(report.per_second);
    }
    let (node_batch, node_single) = (node_rates[0], node_rates[1]);
    let (batch_ratio, single_ratio) = (runtime_batch / node_batch, runtime_single / node_single);
    Row::measured(
        ROW,
        TARGET,
        format!(
            "batch: this runtime {} vs Node.js {}, {} ({} events); per event: this runtime {} vs Node.js {}, {} ({} events)",
            rate(runtime_batch),
            rate(node_batch),
            ratio(batch_ratio),
            thousands(bench.settings.events),
            rate(runtime_single),
            rate(node_single),
            ratio(single_ratio),
            thousands(singles)
        ),
        batch_ratio >= 10.0 && single_ratio >= 3.0,
    )
}

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/node")
}

/// The script's folder, once `node` answers and the client is installed.
async fn client_installed() -> Result<PathBuf, String> {
    let dir = client_dir();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .await
        .map_err(|e| format!("`node` is not installed ({e}); install Node.js 20 or later"))?;
    if !node.status.success() {
        return Err(format!(
            "`node --version` failed: {}",
            String::from_utf8_lossy(&node.stderr).trim()
        ));
    }
    if dir
        .join("node_modules/@kurrent/kurrentdb-client/package.json")
        .exists()
    {
        return Ok(dir);
    }
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .await
        .map_err(|e| format!("`npm` is not installed ({e}); install Node.js with npm"))?;
    if !npm.status.success() {
        return Err(format!(
            "`npm ci` in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&npm.stderr).trim()
        ));
    }
    Ok(dir)
}

async fn run_script(
    dir: &Path,
    mode: &str,
    connection: &str,
    prefix: &str,
    events: u64,
    url: &str,
) -> Result<Report, String> {
    let output = Command::new("node")
        .arg("baseline.mjs")
        .args([mode, connection, prefix, &events.to_string(), url])
        .current_dir(dir)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run `node baseline.mjs`: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "exited with {}: {} {}",
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|e| format!("unexpected output ({e}): {}", stdout.trim()))
}
