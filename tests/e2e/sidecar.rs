//! Sidecar mode: node A is an embedded node serving the KurrentDB gRPC
//! protocol (standing in for a KurrentDB server); node B runs the connectors
//! with `--store` pointing at A and keeps nothing of its own.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{
    assert_in_order_with_bounded_replays, event, eventually, free_port, NodeProcess, Receiver,
};

const EVERY_EVENTS: u64 = 50;
/// Per-event HTTP delivery hands the sink at most this many events per call.
const PER_EVENT_BATCH: u64 = 32;

/// Appends `chunks` x 500 `orders-*` events (plus noise the filter drops) to
/// `node` and returns the positions of the orders.
async fn append_orders(node: &NodeProcess, chunks: std::ops::Range<u64>) -> Vec<u64> {
    let mut positions = Vec::new();
    for chunk in chunks {
        let batch: Vec<_> = (0..500)
            .map(|i| event("OrderPlaced", json!({ "n": chunk * 500 + i })))
            .collect();
        let last = node.append(&format!("orders-{chunk}"), &batch).await;
        positions.extend(last - 499..=last);
        node.append("noise-1", &[event("Noise", json!({}))]).await;
    }
    positions
}

/// An embedded node serving the gRPC protocol on `grpc_port`: the store
/// the sidecars use.
async fn start_store_node(data: &std::path::Path, grpc_port: u16) -> NodeProcess {
    NodeProcess::start_with_args(
        data,
        &[
            "--grpc-listen".into(),
            format!("127.0.0.1:{grpc_port}"),
            // It stands in for a KurrentDB server: the sidecar runs the connectors.
            "--no-connectors".into(),
        ],
    )
    .await
}

fn events_of(body: &Value) -> &Vec<Value> {
    body["events"].as_array().expect("an `events` array")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_delivers_from_the_store_node_and_resumes_after_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    // A slow destination keeps delivery going while the sidecar is killed.
    receiver.set_delay(Duration::from_millis(1));
    let grpc_port = free_port();
    let store_node = start_store_node(&dir.path().join("store"), grpc_port).await;
    let sidecar_dir = dir.path().join("sidecar");
    let sidecar_args = vec![
        "--store".to_owned(),
        format!("esdb://127.0.0.1:{grpc_port}?tls=false"),
    ];
    let sidecar = NodeProcess::start_with_args(&sidecar_dir, &sidecar_args).await;

    let mut expected = append_orders(&store_node, 0..3).await;
    sidecar
        .create_connector(
            "sidecar-orders",
            json!({
                "sink": { "type": "http", "url": receiver.url },
                "filter": { "streams": { "prefixes": ["orders-"] } },
                "checkpoint": { "everyEvents": EVERY_EVENTS, "everyMs": 600000 }
            }),
        )
        .await;

    // The definition lives in the store node's streams.
    let (status, body) = store_node
        .get("/streams/%24connectors%2Fsidecar-orders")
        .await;
    assert_eq!(
        status, 200,
        "the definition stream on the store node: {body}"
    );
    let types: Vec<&str> = events_of(&body)
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(
        types.iter().any(|t| t.starts_with("$Connector")),
        "connector events in the store node: {types:?}"
    );

    eventually(Duration::from_secs(60), "deliveries start", || async {
        (receiver.count() >= 200).then_some(())
    })
    .await;
    sidecar.kill();
    // Events appended while the sidecar is down are delivered after it
    // restarts. This time the connection string lists two seeds, one of
    // them dead: the client finds the leader through gossip.
    expected.extend(append_orders(&store_node, 3..4).await);
    let dead_port = free_port();
    let cluster_args = vec![
        "--store".to_owned(),
        format!("esdb://127.0.0.1:{dead_port},127.0.0.1:{grpc_port}?tls=false"),
    ];
    let sidecar = NodeProcess::start_with_args(&sidecar_dir, &cluster_args).await;

    let received = receiver
        .wait_for_distinct(
            expected.len(),
            Duration::from_secs(120),
            "every event after the restart",
        )
        .await;
    assert_in_order_with_bounded_replays(&received, &expected, 1, EVERY_EVENTS + PER_EVENT_BATCH);

    // The checkpoint is kept in the store node, and the sidecar keeps no
    // event store of its own.
    let (status, body) = store_node
        .get("/streams/%24connectors%2Fsidecar-orders%2Fcheckpoints?direction=backwards&count=1")
        .await;
    assert_eq!(
        status, 200,
        "the checkpoint stream on the store node: {body}"
    );
    assert_eq!(events_of(&body).len(), 1, "a checkpoint: {body}");
    assert!(
        !sidecar_dir.join("events.db").exists(),
        "the sidecar has no local event store"
    );
    let (status, body) = sidecar.get("/connectors/sidecar-orders").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["state"], "running", "{body}");
    sidecar.terminate();
    store_node.terminate();
}

/// A sidecar started before its store waits for it, then serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_waits_for_a_store_that_starts_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grpc_port = free_port();
    let sidecar_dir = dir.path().join("sidecar");
    let args = vec![
        "--store".to_owned(),
        format!("esdb://127.0.0.1:{grpc_port}?tls=false"),
    ];
    let starting =
        tokio::spawn(async move { NodeProcess::start_with_args(&sidecar_dir, &args).await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let store_node = start_store_node(&dir.path().join("store"), grpc_port).await;
    let sidecar = starting
        .await
        .expect("the sidecar starts once the store is up");
    assert!(
        sidecar.log().contains("the event store cannot be reached"),
        "the sidecar said why it waited: {}",
        sidecar.log()
    );
    let (status, body) = sidecar.get("/connectors").await;
    assert_eq!(status, 200, "{body}");
    drop(store_node);
}

/// A module uploaded to a sidecar is stored in the store node (so every
/// sidecar of that store sees it), and a connector on the sidecar runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_uploaded_to_a_sidecar_live_in_the_store_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    let grpc_port = free_port();
    let store_node = start_store_node(&dir.path().join("store"), grpc_port).await;
    let sidecar = NodeProcess::start_with_args(
        &dir.path().join("sidecar"),
        &[
            "--store".to_owned(),
            format!("kurrentdb://127.0.0.1:{grpc_port}?tls=false"),
        ],
    )
    .await;
    let uploaded = sidecar.upload_example("filter-by-type").await;
    let (status, stored) = store_node.get("/modules/filter-by-type").await;
    assert_eq!(status, 200, "the module is in the store node: {stored}");
    assert_eq!(stored["latest"]["digest"], uploaded["digest"], "{stored}");

    sidecar
        .create_connector(
            "typed",
            json!({
                "sink": { "type": "http", "url": receiver.url },
                "filter": { "streams": { "prefixes": ["shop-"] } },
                "transforms": [{ "module": "filter-by-type", "config": { "types": ["Paid"] } }]
            }),
        )
        .await;
    store_node
        .append(
            "shop-1",
            &[
                event("Paid", json!({ "n": 1 })),
                event("Refunded", json!({ "n": 2 })),
                event("Paid", json!({ "n": 3 })),
            ],
        )
        .await;
    eventually(Duration::from_secs(60), "two deliveries", || async {
        (receiver.count() >= 2).then_some(())
    })
    .await;
    let bodies: Vec<Value> = receiver
        .accepted()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON body"))
        .collect();
    assert_eq!(bodies, vec![json!({ "n": 1 }), json!({ "n": 3 })]);
}

/// A connection string the client cannot use stops the sidecar at start
/// with the reason, and without printing the password.
#[test]
fn bad_connection_string_is_refused_without_leaking_the_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_connectors"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .args(["--store", "esdb://admin:s3cr3t-pw@?tls=maybe"])
        .output()
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the sidecar must not start: {stderr}"
    );
    assert!(
        stderr.contains("connection string"),
        "the error names the connection string: {stderr}"
    );
    assert!(
        !stderr.contains("s3cr3t-pw"),
        "the password leaked: {stderr}"
    );
}
