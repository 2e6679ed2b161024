//! A status that tells the truth, and resets that cannot skip events.
//!
//! - Every reset that is refused is a fixture in `fixtures/reset/`, one file
//!   per case: `{"request": <body, or null for none>, "status", "code",
//!   "error"}`. In a request, the string `"<head+N>"` stands for the log's
//!   head position plus N; in the error, `<head>` and `<head+N>` for the
//!   numbers (the head depends on how many system events the node wrote).
//! - `caughtUp` is true only when everything up to the head was delivered:
//!   false while disabled with lag, while retrying a dead sink, while
//!   faulted.
//! - Counters are totals across disable / enable, reset, a graceful restart
//!   and a SIGKILL (up to the last checkpoint); `run` holds the counts of the
//!   current run and when it started.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{event, eventually, free_port, grpc_node, NodeProcess, Receiver};

const WAIT: Duration = Duration::from_secs(30);

async fn append_numbered(node: &NodeProcess, stream: &str, range: std::ops::Range<u64>) {
    let batch: Vec<_> = range.map(|n| event("Counted", json!({ "n": n }))).collect();
    node.append(stream, &batch).await;
}

/// The position of the log's last event, as the status measures lag.
async fn head(node: &NodeProcess, id: &str) -> u64 {
    let status = node.status(id).await;
    let position = status["position"].as_u64().unwrap_or(0);
    position + status["lag"].as_u64().expect("lag")
}

/// Waits until `check` holds for the connector's status; returns it.
async fn wait_status(
    node: &NodeProcess,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    eventually(WAIT, what, || async {
        let status = node.status(id).await;
        check(&status).then_some(status)
    })
    .await
}

fn http_sink(url: &str) -> Value {
    json!({ "type": "http", "url": url })
}

/// Replaces `"<head+N>"` strings in a fixture's request by numbers.
fn with_head(value: &Value, head: u64) -> Value {
    match value {
        Value::String(s) => match s
            .strip_prefix("<head+")
            .and_then(|rest| rest.strip_suffix('>'))
        {
            Some(n) => json!(head + n.parse::<u64>().expect("<head+N>")),
            None => value.clone(),
        },
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), with_head(v, head)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `<head>` and `<head+N>` in a fixture's error, as numbers.
fn error_with_head(text: &str, head: u64) -> String {
    let mut out = text.replace("<head>", &head.to_string());
    while let Some(start) = out.find("<head+") {
        let end = start + out[start..].find('>').expect("closing `>`");
        let n: u64 = out[start + 6..end].parse().expect("<head+N>");
        out.replace_range(start..=end, &(head + n).to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_resets_say_what_to_send() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    append_numbered(&node, "orders", 0..5).await;
    // A sink nobody listens on: the connector delivers nothing, so it
    // writes no checkpoint and the head stays where it is.
    let nobody = format!("http://127.0.0.1:{}/", free_port());
    node.create_connector("c", json!({ "sink": http_sink(&nobody) }))
        .await;
    let head = head(&node, "c").await;
    assert!(head > 0);

    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/fixtures/reset");
    let mut cases: Vec<_> = std::fs::read_dir(&folder)
        .expect("fixtures/reset")
        .map(|entry| entry.expect("fixture").path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "fixtures in {}", folder.display());
    for case in cases {
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let fixture: Value =
            serde_json::from_slice(&std::fs::read(&case).expect("read fixture")).expect(&name);
        let request = with_head(&fixture["request"], head);
        let body = (!request.is_null()).then_some(&request);
        let (status, answer) = node.call(Method::POST, "/connectors/c/reset", body).await;
        assert_eq!(status, fixture["status"], "{name}: {answer}");
        assert_eq!(answer["code"], fixture["code"], "{name}: {answer}");
        let expected = error_with_head(fixture["error"].as_str().expect("error"), head);
        assert_eq!(answer["message"], expected, "{name}");
    }

    // Nothing was reset.
    let (_, connector) = node.get("/connectors/c").await;
    assert_eq!(connector["round"], 0, "{connector}");
    // The head itself is an event's position, and a valid target.
    let (status, answer) = node
        .post("/connectors/c/reset", &json!({ "to": head }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["round"], 1, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_or_start_past_the_head_would_skip_events_and_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    append_numbered(&node, "orders", 0..3).await;
    node.create_connector("c", json!({ "sink": http_sink(&receiver.url) }))
        .await;
    eventually(WAIT, "3 deliveries", || async {
        (receiver.count() == 3).then_some(())
    })
    .await;

    let (status, answer) = node
        .post("/connectors/c/reset", &json!({ "to": 999999 }))
        .await;
    assert_eq!(status, 422, "{answer}");
    let (status, answer) = node
        .post(
            "/connectors/late",
            &json!({ "sink": http_sink(&receiver.url), "start": 999999 }),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["code"], "invalid-position", "{answer}");
    let message = answer["message"].as_str().expect("message");
    assert!(
        message.starts_with("`start`: position 999999 is past the end of the log"),
        "{message}"
    );
    let (status, _) = node.get("/connectors/late").await;
    assert_eq!(status, 404, "a refused create stores nothing");

    // The events appended afterwards are all delivered: none skipped.
    append_numbered(&node, "orders", 3..6).await;
    eventually(WAIT, "6 deliveries", || async {
        (receiver.count() == 6).then_some(())
    })
    .await;
    assert_eq!(receiver.numbers(), (0..6).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caught_up_means_everything_up_to_the_head_was_delivered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    append_numbered(&node, "orders", 0..5).await;
    node.create_connector("c", json!({ "sink": http_sink(&receiver.url) }))
        .await;

    // Caught up: all delivered, no lag.
    let status = wait_status(&node, "c", "caught up", |s| s["caughtUp"] == true).await;
    assert_eq!(status["lag"], 0, "{status}");
    assert_eq!(status["delivered"], 5, "{status}");

    // Disabled with lag: not caught up.
    let (code, _) = node.post("/connectors/c/disable", &json!({})).await;
    assert_eq!(code, 200);
    append_numbered(&node, "orders", 5..8).await;
    let status = node.status("c").await;
    assert_eq!(status["state"], "disabled", "{status}");
    assert!(status["lag"].as_u64().expect("lag") > 0, "{status}");
    assert_eq!(status["caughtUp"], false, "disabled with lag: {status}");

    // Retrying a sink that answers 503: not caught up, and says so.
    receiver.fail_all(Some(503));
    let (code, _) = node.post("/connectors/c/enable", &json!({})).await;
    assert_eq!(code, 200);
    let status = wait_status(&node, "c", "retrying", |s| s["retrying"] == true).await;
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["caughtUp"], false, "retrying: {status}");
    assert!(status["lag"].as_u64().expect("lag") > 0, "{status}");

    // Once the sink is back, caught up again, with everything delivered.
    receiver.fail_all(None);
    let status = wait_status(&node, "c", "caught up again", |s| s["caughtUp"] == true).await;
    assert_eq!(status["retrying"], false, "{status}");
    assert_eq!(status["delivered"], 8, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_caught_up_while_the_sink_is_down_or_the_connector_faulted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    append_numbered(&node, "orders", 0..5).await;

    // Nobody listens on this port: every delivery is retried.
    let nobody = format!("http://127.0.0.1:{}/", free_port());
    node.create_connector("dead", json!({ "sink": http_sink(&nobody) }))
        .await;
    let status = wait_status(&node, "dead", "retrying", |s| s["retrying"] == true).await;
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["caughtUp"], false, "retrying a dead sink: {status}");
    assert!(status["lag"].as_u64().expect("lag") > 0, "{status}");

    // A sink that refuses for good, with `onFailure: fault`.
    let receiver = Receiver::start().await;
    receiver.fail_all(Some(400));
    node.create_connector(
        "refused",
        json!({ "sink": http_sink(&receiver.url), "onFailure": "fault" }),
    )
    .await;
    let status = node.wait_faulted("refused").await;
    assert_eq!(status["caughtUp"], false, "faulted: {status}");
    assert_eq!(status["retrying"], false, "{status}");
    assert_eq!(status["failed"], 1, "{status}");
}

/// Waits until the connector delivered `n` in total and checkpointed past
/// the last event it delivered (so the count is in the store).
async fn wait_checkpointed(node: &NodeProcess, id: &str, n: u64, receiver: &Receiver) -> Value {
    wait_status(node, id, &format!("{n} delivered and checkpointed"), |s| {
        let last = receiver.positions().into_iter().max().unwrap_or(0);
        s["delivered"] == n && s["checkpoint"].as_u64().is_some_and(|c| c >= last)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_are_totals_across_enable_reset_restart_and_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    let node = NodeProcess::start(dir.path()).await;
    append_numbered(&node, "orders", 0..5).await;
    node.create_connector(
        "c",
        json!({ "sink": http_sink(&receiver.url), "checkpoint": { "everyMs": 50 } }),
    )
    .await;
    let first = wait_status(&node, "c", "5 delivered", |s| s["delivered"] == 5).await;
    assert_eq!(first["run"]["delivered"], 5, "{first}");

    // Disable / enable: the total goes on, the new run counts from zero.
    node.post("/connectors/c/disable", &json!({})).await;
    let disabled = node.status("c").await;
    assert_eq!(disabled["delivered"], 5, "{disabled}");
    node.post("/connectors/c/enable", &json!({})).await;
    append_numbered(&node, "orders", 5..7).await;
    let status = wait_status(&node, "c", "7 delivered", |s| s["delivered"] == 7).await;
    assert_eq!(status["run"]["delivered"], 2, "{status}");
    assert!(
        status["run"]["startedAt"].as_str() > first["run"]["startedAt"].as_str(),
        "a new run: {status}"
    );

    // Reset to the start: the 7 are delivered again and counted again.
    let (code, answer) = node
        .post("/connectors/c/reset", &json!({ "to": "start" }))
        .await;
    assert_eq!(code, 200, "{answer}");
    let status = wait_status(&node, "c", "14 delivered", |s| s["delivered"] == 14).await;
    assert_eq!(status["run"]["delivered"], 7, "{status}");

    // A graceful restart of the binary keeps the totals.
    wait_checkpointed(&node, "c", 14, &receiver).await;
    node.terminate();
    let node = NodeProcess::start(dir.path()).await;
    let status = wait_status(&node, "c", "running again", |s| s["state"] == "running").await;
    assert_eq!(status["delivered"], 14, "after a restart: {status}");
    assert_eq!(status["run"]["delivered"], 0, "{status}");

    // SIGKILL: the totals survive up to the last checkpoint.
    append_numbered(&node, "orders", 7..10).await;
    wait_checkpointed(&node, "c", 17, &receiver).await;
    node.kill();
    let node = NodeProcess::start(dir.path()).await;
    let status = wait_status(&node, "c", "running after SIGKILL", |s| {
        s["state"] == "running"
    })
    .await;
    assert_eq!(status["delivered"], 17, "after SIGKILL: {status}");

    // A disabled connector shows its stored totals and position after a
    // restart, though it has not run since.
    node.post("/connectors/c/disable", &json!({})).await;
    node.terminate();
    let node = NodeProcess::start(dir.path()).await;
    let status = node.status("c").await;
    assert_eq!(status["state"], "disabled", "{status}");
    assert_eq!(status["delivered"], 17, "{status}");
    assert_eq!(status["run"], Value::Null, "{status}");
    assert!(status["position"].as_u64().is_some(), "{status}");
    assert_eq!(
        receiver.numbers().len(),
        17,
        "nothing delivered twice beyond the reset"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_tells_the_same_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    let (store_node, connection) = grpc_node(&dir.path().join("store"), &["--no-connectors"]).await;
    let sidecar = NodeProcess::start_with_args(
        &dir.path().join("sidecar"),
        &["--store".to_owned(), connection],
    )
    .await;
    append_numbered(&store_node, "orders-1", 0..5).await;
    sidecar
        .create_connector(
            "c",
            json!({
                "sink": http_sink(&receiver.url),
                "filter": { "streams": { "prefixes": ["orders-"] } },
            }),
        )
        .await;
    // Events the filter drops come last: the connector is still caught up.
    store_node
        .append("noise-1", &[event("Noise", json!({}))])
        .await;
    let status = wait_status(&sidecar, "c", "caught up", |s| s["caughtUp"] == true).await;
    assert_eq!(status["delivered"], 5, "{status}");

    let (status, answer) = sidecar
        .post("/connectors/c/reset", &json!({ "to": 999999999 }))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["code"], "invalid-position", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connectors_stay_caught_up_and_stop_checkpointing_each_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    append_numbered(&node, "orders", 0..3).await;
    for id in ["a", "b"] {
        node.create_connector(
            id,
            json!({ "sink": http_sink(&receiver.url), "checkpoint": { "everyMs": 20 } }),
        )
        .await;
    }
    wait_status(&node, "b", "b caught up", |s| s["caughtUp"] == true).await;
    wait_status(&node, "a", "a caught up", |s| s["caughtUp"] == true).await;
    // Each checkpoint is an event the other connector skips; were that
    // progress saved on time, the two would write checkpoints forever. (The
    // node's own membership heartbeats move both positions a little every
    // second, and are not saved either.)
    let checkpoints = || async {
        let mut revisions = Vec::new();
        for id in ["a", "b"] {
            let stream = format!("$connectors/{id}/checkpoints");
            let events = node.read_stream(&stream).await;
            revisions.push(events.last().map(|e| e["revision"].clone()));
        }
        revisions
    };
    let before = checkpoints().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        checkpoints().await,
        before,
        "idle connectors wrote checkpoints"
    );
    wait_status(&node, "b", "b still caught up", |s| s["caughtUp"] == true).await;
    wait_status(&node, "a", "a still caught up", |s| s["lag"] == 0).await;
}
