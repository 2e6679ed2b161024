//! Disable / enable, reset, delete, and restarts of the node.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::{event, eventually, NodeProcess, Receiver};

async fn append_numbered(node: &NodeProcess, stream: &str, range: std::ops::Range<u64>) -> u64 {
    let batch: Vec<_> = range.map(|n| event("Counted", json!({ "n": n }))).collect();
    node.append(stream, &batch).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_enable_reset_and_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    append_numbered(&node, "counts-1", 0..100).await;
    node.create_connector(
        "counter",
        json!({ "sink": { "type": "http", "url": receiver.url } }),
    )
    .await;
    receiver.wait_for_count(100).await;

    // Disable: nothing more arrives; enable resumes from the checkpoint.
    let (status, body) = node.post("/connectors/counter/disable", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], false);
    assert_eq!(body["status"]["state"], "disabled");
    append_numbered(&node, "counts-1", 100..150).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.count(),
        100,
        "a disabled connector delivers nothing"
    );
    let (status, body) = node.post("/connectors/counter/enable", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    receiver.wait_for_count(150).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.numbers(),
        (0..150).collect::<Vec<_>>(),
        "resumed after the checkpoint, no duplicates"
    );

    // Reset to the start redelivers everything.
    receiver.clear();
    let (status, body) = node
        .post("/connectors/counter/reset", &json!({ "to": "start" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["round"], 1);
    receiver.wait_for_count(150).await;
    assert_eq!(receiver.numbers(), (0..150).collect::<Vec<_>>());

    // Reset to a position resumes after it.
    let events = node.read_stream("counts-1").await;
    let position = events[119]["position"].as_u64().expect("position");
    receiver.clear();
    let (status, body) = node
        .post("/connectors/counter/reset", &json!({ "to": position }))
        .await;
    assert_eq!(status, 200, "{body}");
    receiver.wait_for_count(30).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.numbers(), (120..150).collect::<Vec<_>>());

    // Delete stops it and forgets it.
    let (status, _) = node.call(Method::DELETE, "/connectors/counter", None).await;
    assert_eq!(status, 204);
    let (status, body) = node.get("/connectors/counter").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not-found");
    receiver.clear();
    append_numbered(&node, "counts-1", 150..160).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.count(), 0, "a deleted connector delivers nothing");
    let (_, list) = node.get("/connectors").await;
    assert_eq!(list, json!([]));

    // The id can be used again, from scratch.
    node.create_connector(
        "counter",
        json!({ "sink": { "type": "http", "url": receiver.url }, "start": "end" }),
    )
    .await;
    append_numbered(&node, "counts-1", 160..161).await;
    receiver.wait_for_count(1).await;
    assert_eq!(receiver.numbers(), vec![160]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_definitions_and_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    let node = NodeProcess::start(dir.path()).await;
    append_numbered(&node, "kept-1", 0..20).await;
    let created = node
        .create_connector(
            "kept-on",
            json!({
                "sink": { "type": "http", "url": receiver.url, "auth": { "type": "bearer", "token": "s3cret" } },
                "filter": { "streams": { "regex": "^kept-" } },
                "checkpoint": { "everyEvents": 5, "everyMs": 100 }
            }),
        )
        .await;
    assert_eq!(
        created["definition"]["sink"]["auth"]["token"], "******",
        "secrets are never returned"
    );
    node.create_connector(
        "kept-off",
        json!({ "sink": { "type": "console", "format": "json" }, "enable": false }),
    )
    .await;
    receiver.wait_for_count(20).await;
    assert_eq!(
        receiver.accepted()[0].header("authorization"),
        "Bearer s3cret"
    );
    let (_, before) = node.get("/connectors").await;
    node.terminate();

    let node = NodeProcess::start(dir.path()).await;
    let (status, after) = node.get("/connectors").await;
    assert_eq!(status, 200);
    let summary = |list: &serde_json::Value| -> Vec<(serde_json::Value, serde_json::Value, serde_json::Value)> {
        list.as_array()
            .expect("array")
            .iter()
            .map(|c| (c["id"].clone(), c["enabled"].clone(), c["definition"].clone()))
            .collect()
    };
    assert_eq!(summary(&after), summary(&before));
    assert_eq!(after[1]["status"]["state"], "disabled");
    // The enabled one starts again (it may still be starting when the API
    // first answers).
    eventually(Duration::from_secs(30), "kept-on running again", || async {
        (node.status("kept-on").await["state"] == "running").then_some(())
    })
    .await;

    // It resumes after its checkpoint: only new events arrive.
    append_numbered(&node, "kept-1", 20..25).await;
    receiver.wait_for_count(25).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.numbers(), (0..25).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfigure_applies_the_new_sink_and_asks_for_the_secret_again_for_another_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let first = Receiver::start().await;
    let second = Receiver::start().await;
    node.create_connector(
        "moving",
        json!({ "sink": { "type": "http", "url": first.url, "auth": { "type": "basic", "username": "u", "password": "p" } } }),
    )
    .await;
    append_numbered(&node, "moves-1", 0..3).await;
    first.wait_for_count(3).await;
    let (_, current) = node.get("/connectors/moving").await;
    let mut definition = current["definition"].clone();
    definition["sink"]["url"] = json!(second.url);
    // The redacted password is not sent to another destination...
    let (status, body) = node
        .call(Method::PUT, "/connectors/moving", Some(&definition))
        .await;
    assert_eq!(status, 400, "{body}");
    // ...the password must be given again.
    definition["sink"]["auth"]["password"] = json!("p");
    let (status, body) = node
        .call(Method::PUT, "/connectors/moving", Some(&definition))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["definition"]["sink"]["auth"]["password"], "******");
    append_numbered(&node, "moves-1", 3..5).await;
    second.wait_for_count(2).await;
    let got = second.accepted();
    assert_eq!(
        got[0].header("authorization"),
        "Basic dTpw",
        "the password given again is used"
    );
    assert_eq!(second.numbers(), vec![3, 4]);
}
