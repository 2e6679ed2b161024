//! A connector whose stored record no longer decodes (written by another
//! version, or garbage appended to its stream) does not take the node down:
//! the node starts, the other connectors deliver, and the broken one is
//! listed as faulted with the reason.

use std::time::Duration;

use serde_json::json;

use connectors::store::kurrent::KurrentStore;
use connectors::store::{EventStore, ExpectedRevision, NewEvent};

use crate::support::{event, eventually, grpc_node, status_message, NodeProcess, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_does_not_decode_faults_only_its_connector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    let (node, grpc) = grpc_node(dir.path(), &[]).await;
    let sink = json!({ "type": "http", "url": receiver.url });
    let only_orders = json!({ "streams": { "prefixes": ["orders-"] } });
    node.create_connector("healthy", json!({ "sink": sink, "filter": only_orders }))
        .await;
    node.create_connector("broken", json!({ "sink": sink, "filter": only_orders }))
        .await;

    // Garbage in the broken connector's own stream and in the index, written
    // through the node's gRPC API (a node without credentials lets anyone
    // write `$` streams, as the admin).
    let client = KurrentStore::connect(&grpc).expect("connect");
    client
        .append(
            "$connectors/broken",
            ExpectedRevision::Any,
            vec![NewEvent::json(
                "$ConnectorReconfigured",
                &json!({ "definition": 42 }),
            )],
        )
        .await
        .expect("append garbage to the connector's stream");
    client
        .append(
            "$connectors",
            ExpectedRevision::Any,
            vec![NewEvent::json("$ConnectorRegistered", &json!({ "id": 7 }))],
        )
        .await
        .expect("append garbage to the index");
    drop(client);
    node.terminate();

    let node = NodeProcess::start(dir.path()).await;
    let (status, listed) = node.get("/connectors").await;
    assert_eq!(status, 200, "the list answers: {listed}");
    let listed = listed.as_array().expect("a list").clone();
    let broken = listed
        .iter()
        .find(|c| c["id"] == "broken")
        .unwrap_or_else(|| panic!("the broken connector is listed: {listed:?}"));
    assert_eq!(broken["status"]["state"], "faulted", "{broken}");
    let reason = status_message(&broken["status"]);
    assert!(
        reason.contains("$ConnectorReconfigured")
            && reason.contains("revision 1")
            && reason.contains("does not decode"),
        "the reason names the record: {reason}"
    );

    let (status, alone) = node.get("/connectors/broken").await;
    assert_eq!(status, 200, "{alone}");
    assert_eq!(alone["status"]["state"], "faulted", "{alone}");
    assert_eq!(status_message(&alone["status"]), reason);

    node.append("orders-1", &[event("OrderPlaced", json!({ "n": 1 }))])
        .await;
    eventually(
        Duration::from_secs(30),
        "the healthy connector delivers",
        || async { (receiver.count() >= 1).then_some(()) },
    )
    .await;
    let healthy = node.status("healthy").await;
    assert_eq!(healthy["state"], "running", "{healthy}");
}
