//! Misbehaving components: each faults its connector or dead-letters the
//! event within a bounded time, while the node and another connector keep
//! delivering. And the sandbox: no files, no environment.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{event, eventually, NodeProcess, Receiver};

/// A node with the `misbehave` module and a healthy connector beside it.
async fn node_with_bystander(dir: &std::path::Path) -> (NodeProcess, Receiver) {
    let node = NodeProcess::start(dir).await;
    node.upload_example("misbehave").await;
    let bystander = Receiver::start().await;
    node.create_connector(
        "bystander",
        json!({ "sink": { "type": "http", "url": bystander.url }, "filter": { "streams": { "prefixes": ["calm-"] } } }),
    )
    .await;
    (node, bystander)
}

/// The bystander still delivers new events.
async fn bystander_delivers(node: &NodeProcess, bystander: &Receiver) {
    let before = bystander.count();
    node.append("calm-1", &[event("Still", json!({ "fine": true }))])
        .await;
    eventually(
        Duration::from_secs(30),
        "the bystander to deliver",
        || async { (bystander.count() > before).then_some(()) },
    )
    .await;
}

async fn misbehaving(node: &NodeProcess, id: &str, mode: &str, limits: Value) -> Receiver {
    let receiver = Receiver::start().await;
    node.create_connector(
        id,
        json!({
            "sink": { "type": "http", "url": receiver.url },
            "filter": { "streams": { "prefixes": [format!("{id}-")] } },
            "transforms": [{ "module": "misbehave", "config": { "mode": mode }, "limits": limits }]
        }),
    )
    .await;
    receiver
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traps_loops_memory_and_huge_output_fault_only_their_connector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, bystander) = node_with_bystander(dir.path()).await;
    let cases = [
        ("trap", "trap", json!({}), "unreachable"),
        (
            "loop",
            "loop",
            json!({ "timeoutMs": 500 }),
            "time budget of 500 ms",
        ),
        ("grow", "grow", json!({ "memoryMib": 32 }), "growing memory"),
        (
            "huge",
            "huge-output",
            json!({ "memoryMib": 256 }),
            "more than the limit",
        ),
    ];
    for (id, mode, limits, fragment) in cases {
        let receiver = misbehaving(&node, id, mode, limits).await;
        node.append(&format!("{id}-1"), &[event("Poke", json!({ "n": 1 }))])
            .await;
        let message = node.wait_fault_message(id).await;
        assert!(
            message.contains(fragment),
            "{id}: `{message}` should mention `{fragment}`"
        );
        assert!(
            message.contains("transforms[0] (misbehave)"),
            "{id}: names the stage: {message}"
        );
        assert_eq!(receiver.count(), 0, "{id}: nothing delivered");
        bystander_delivers(&node, &bystander).await;
    }
    let (status, _) = node.get("/health").await;
    assert_eq!(status, 200, "the node is still up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_events_are_dead_lettered_and_the_rest_delivered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, bystander) = node_with_bystander(dir.path()).await;
    let receiver = misbehaving(&node, "picky", "invalid", json!({})).await;
    node.append(
        "picky-1",
        &[
            event("A", json!({ "n": 1 })),
            event("A", json!({ "n": 2, "poison": true })),
            event("A", json!({ "n": 3 })),
        ],
    )
    .await;
    eventually(Duration::from_secs(30), "two deliveries", || async {
        (receiver.count() >= 2).then_some(())
    })
    .await;
    assert_eq!(receiver.numbers(), vec![1, 3]);
    let letters = eventually(Duration::from_secs(10), "the dead letter", || async {
        let letters = node.read_stream("$connectors/picky/dead-letters").await;
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["data"]["stage"], "transforms[0] (misbehave)");
    assert_eq!(letters[0]["data"]["event"]["data"]["n"], 2);
    assert_eq!(node.status("picky").await["state"], "running");
    bystander_delivers(&node, &bystander).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_has_no_files_and_no_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, _bystander) = node_with_bystander(dir.path()).await;
    let receiver = misbehaving(&node, "snoop", "read-file", json!({})).await;
    node.append("snoop-1", &[event("Look", json!({}))]).await;
    eventually(Duration::from_secs(30), "the snoop report", || async {
        (receiver.count() >= 1).then_some(())
    })
    .await;
    let report: Value = serde_json::from_slice(&receiver.accepted()[0].body).expect("json");
    assert!(
        !report["file"].as_str().unwrap_or("").contains("root:"),
        "no file contents: {report}"
    );
    assert_eq!(report["env"], 0, "no environment: {report}");
    assert_eq!(report["home"], Value::Null, "{report}");
}
