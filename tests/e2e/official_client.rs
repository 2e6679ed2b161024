//! The official KurrentDB Node.js client (`@kurrent/kurrentdb-client`, driven
//! by `tests/clients/node/client.mjs`) against `serve --grpc-listen`: appends
//! with every kind of expected revision, through `BatchAppend` (which the
//! node lists, so the client uses it; also split into several requests) and
//! through `Append` (which the client uses for calls with per-call
//! credentials), with the client's own debug log as proof of the path it
//! took; reads, subscriptions with filters, metadata, delete and tombstone,
//! atomic appends to several streams; then a connector delivers the events
//! the client wrote. With `--grpc-credentials`, calls without the right
//! credentials are refused.
//!
//! Needs `node` (20 or later, as the client requires) and `npm`; the client
//! package is installed with `npm ci` from the committed lockfile when
//! `node_modules` is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::support::{
    assert_orders_reach_a_connector, event, grpc_node, passed_checks, run_script, Receiver,
};

/// Every check `client.mjs check` runs, in order.
pub(crate) const CHECKS: &[&str] = &[
    "server-features",
    "append-no-stream",
    "append-expected-revision",
    "append-wrong-expected-revision",
    "append-wrong-no-stream",
    "append-wrong-stream-exists",
    "append-stream-exists-and-any",
    "read-stream-forwards",
    "read-stream-backwards",
    "read-missing-stream",
    "append-other-streams",
    "read-all-forwards",
    "read-all-backwards",
    "read-all-filtered",
    "subscribe-all-stream-prefix-filter",
    "subscribe-all-event-type-filter",
    "subscribe-stream",
    "subscribe-stream-live",
    "stream-metadata",
    "delete-stream",
    "tombstone-stream",
    "discovery-via-gossip",
    "batch-append-expected-states",
    "batch-append-chunked",
    "append-path-with-credentials",
    "multi-append-supported",
    "multi-append-streams",
    "multi-append-wrong-expectation",
    "multi-append-read-back",
    "summary",
];

/// Every check `client.mjs auth` runs, in order.
const AUTH_CHECKS: &[&str] = &[
    "auth-read-with-credentials",
    "auth-read-all-with-credentials",
    "auth-missing-stream-with-credentials",
    "auth-read-without-credentials",
    "auth-read-wrong-password",
    "auth-append-without-credentials",
    "auth-subscribe-without-credentials",
    "auth-append-with-credentials",
    "summary",
];

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/node")
}

/// Checks that `node` and `npm` are there and installs the client package
/// once per test run (tests in this module run in parallel and share it).
pub(crate) fn node_client() -> &'static Path {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        let dir = client_dir();
        let node = Command::new("node").arg("--version").output().map_err(|e| {
            format!("`node` is needed to run the official KurrentDB client tests ({e}); install Node.js 20 or later with npm")
        })?;
        if !node.status.success() {
            return Err(format!(
                "`node --version` failed: {}",
                String::from_utf8_lossy(&node.stderr)
            ));
        }
        let package = dir.join("node_modules/@kurrent/kurrentdb-client/package.json");
        if !package.exists() {
            let npm = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output()
                .map_err(|e| {
                    format!("`npm` is needed to install the official KurrentDB client ({e}); install Node.js with npm")
                })?;
            if !npm.status.success() {
                return Err(format!(
                    "`npm ci` in {} failed:\n{}\n{}",
                    dir.display(),
                    String::from_utf8_lossy(&npm.stdout),
                    String::from_utf8_lossy(&npm.stderr)
                ));
            }
        }
        Ok(dir)
    });
    match installed {
        Ok(dir) => dir,
        Err(message) => panic!("{message}"),
    }
}

/// Runs `node client.mjs <args>` to the end (the script has its own time
/// limit, so it cannot hang the test).
pub(crate) async fn run_client(args: Vec<String>) -> Output {
    let dir = node_client().to_owned();
    run_script(
        "node",
        "client.mjs",
        dir,
        &[("CLIENT_RUN_TIMEOUT_MS", "240000")],
        args,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_node_client_works_and_its_events_reach_a_connector() {
    node_client();
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, connection) = grpc_node(dir.path(), &[]).await;
    let receiver = Receiver::start().await;

    let token = "e2e";
    let output = run_client(vec!["check".into(), connection, token.into()]).await;
    let lines = passed_checks(&output, CHECKS, &node);

    assert_append_paths(&lines);

    let summary = lines.last().expect("summary line");
    let stream = format!("client-orders-{token}");
    assert_eq!(summary["stream"], stream.as_str());
    let orders = summary["orders"].as_array().expect("orders in the summary");
    assert_eq!(orders.len(), 10, "the client leaves 10 orders: {summary}");

    // The node's own HTTP API sees the same stream.
    let stored = node.read_stream(&stream).await;
    assert_eq!(stored.len(), orders.len(), "events of {stream} over HTTP");

    assert_orders_reach_a_connector(
        &node,
        &receiver,
        "client-orders-hook",
        "client-orders-",
        &stream,
        orders,
    )
    .await;
}

/// The client's debug log shows which gRPC method carried each append.
fn assert_append_paths(lines: &[Value]) {
    let line = |name: &str| {
        lines
            .iter()
            .find(|line| line["check"] == name)
            .unwrap_or_else(|| panic!("no `{name}` line"))
            .clone()
    };
    let features = line("server-features");
    assert_eq!(features["batchAppend"], true, "{features}");
    assert_eq!(features["deadlineDuration"], true, "{features}");

    let batch = line("batch-append-expected-states");
    assert_eq!(batch["paths"]["append"], 0, "no Append calls: {batch}");
    assert_eq!(
        batch["paths"]["batchAppend"], 7,
        "one BatchAppend request per append: {batch}"
    );

    let chunked = line("batch-append-chunked");
    assert_eq!(chunked["paths"]["append"], 0, "{chunked}");
    let requests = chunked["paths"]["batchAppend"].as_u64().unwrap_or(0);
    assert!(requests >= 6, "100 KiB in requests of 16 KiB: {chunked}");

    let forced = line("append-path-with-credentials");
    assert_eq!(forced["paths"]["batchAppend"], 0, "{forced}");
    assert_eq!(forced["paths"]["append"], 8, "{forced}");
    // Over `tls=false` the client leaves the credentials out of the call;
    // they only steer it to Append.
    assert!(
        forced["paths"]["credentialsDropped"].as_u64().unwrap_or(0) > 0,
        "{forced}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_node_client_needs_the_right_credentials() {
    node_client();
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, connection) = grpc_node(dir.path(), &["--grpc-credentials", "admin:changeit"]).await;

    // Written over the HTTP API, read with the client.
    let stream = "auth-orders-1";
    let events: Vec<Value> = (0..3)
        .map(|n| event("OrderPlaced", json!({ "n": n })))
        .collect();
    node.append(stream, &events).await;

    let output = run_client(vec![
        "auth".into(),
        connection,
        "admin:changeit".into(),
        stream.into(),
        events.len().to_string(),
    ])
    .await;
    let lines = passed_checks(&output, AUTH_CHECKS, &node);
    let refused = lines
        .iter()
        .find(|line| line["check"] == "auth-read-without-credentials")
        .expect("the anonymous read");
    let error = refused["error"].as_str().unwrap_or("");
    assert!(
        error.contains("AccessDenied") || error.contains("code=7") || error.contains("code=16"),
        "an anonymous read is refused as access denied or unauthenticated: {refused}"
    );
    // Nothing was written by the refused calls.
    assert_eq!(node.read_stream(stream).await.len(), events.len());
}
