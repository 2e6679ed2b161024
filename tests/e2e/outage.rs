//! Sink outages: 503s are retried without loss or reordering; a 400 puts
//! that one event, and only it, in the dead-letter stream.

use std::time::Duration;

use serde_json::json;

use crate::support::{event, eventually, NodeProcess, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_is_retried_until_the_receiver_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    receiver.fail_all(Some(503));

    let first: Vec<_> = (0..100)
        .map(|n| event("Shipped", json!({ "n": n })))
        .collect();
    node.append("shipments-1", &first).await;
    node.create_connector(
        "shipments",
        json!({
            "sink": {
                "type": "http",
                "url": receiver.url,
                "retry": { "initialBackoffMs": 20, "maxBackoffMs": 200 }
            }
        }),
    )
    .await;

    // The outage shows in the status, and requests keep coming.
    let status = eventually(
        Duration::from_secs(30),
        "the error in the status",
        || async {
            let status = node.status("shipments").await;
            let message = status["lastError"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            (message.contains("503") && receiver.refused() >= 3).then_some(status)
        },
    )
    .await;
    assert_eq!(status["state"], "running");
    assert_eq!(receiver.count(), 0);

    // More events arrive during the outage.
    let second: Vec<_> = (100..200)
        .map(|n| event("Shipped", json!({ "n": n })))
        .collect();
    node.append("shipments-2", &second).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    receiver.fail_all(None);

    let numbers = eventually(Duration::from_secs(60), "200 deliveries", || async {
        let numbers = receiver.numbers();
        (numbers.len() >= 200).then_some(numbers)
    })
    .await;
    assert_eq!(
        numbers,
        (0..200).collect::<Vec<_>>(),
        "nothing lost, order kept, no duplicates"
    );
    let status = node.status("shipments").await;
    assert_eq!(status["deadLettered"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_request_dead_letters_only_that_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;

    let events: Vec<_> = (0..50)
        .map(|n| event("Invoiced", json!({ "n": n })))
        .collect();
    let poisoned = events[17]["eventId"].as_str().expect("id").to_owned();
    receiver.reject_id(&poisoned);
    node.append("invoices-1", &events).await;
    node.create_connector(
        "invoices",
        json!({ "sink": { "type": "http", "url": receiver.url } }),
    )
    .await;

    eventually(Duration::from_secs(30), "49 deliveries", || async {
        (receiver.count() >= 49).then_some(())
    })
    .await;
    let letters = eventually(Duration::from_secs(10), "the dead letter", || async {
        let letters = node.read_stream("$connectors/invoices/dead-letters").await;
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    assert_eq!(letters.len(), 1, "only the refused event: {letters:?}");
    let letter = &letters[0]["data"];
    assert_eq!(letter["event"]["id"], poisoned.as_str());
    assert_eq!(letter["status"], 400);
    assert_eq!(letter["stage"], "sink");

    let delivered: Vec<String> = receiver
        .accepted()
        .iter()
        .map(|r| r.header("esdb-record-id").to_owned())
        .collect();
    let expected: Vec<String> = events
        .iter()
        .map(|e| e["eventId"].as_str().expect("id").to_owned())
        .filter(|id| *id != poisoned)
        .collect();
    assert_eq!(delivered, expected, "every other event, in order");
    let status = node.status("invoices").await;
    assert_eq!(status["deadLettered"], 1);
    assert_eq!(status["delivered"], 49);
    assert_eq!(status["state"], "running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_policy_stops_the_connector_with_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    let events: Vec<_> = (0..10)
        .map(|n| event("Invoiced", json!({ "n": n })))
        .collect();
    receiver.reject_id(events[4]["eventId"].as_str().expect("id"));
    node.append("invoices-2", &events).await;
    node.create_connector(
        "strict",
        json!({ "sink": { "type": "http", "url": receiver.url }, "onFailure": "fault" }),
    )
    .await;
    let status = eventually(
        Duration::from_secs(30),
        "the connector to fault",
        || async {
            let status = node.status("strict").await;
            (status["state"] == "faulted").then_some(status)
        },
    )
    .await;
    assert!(
        status["lastError"]["message"]
            .as_str()
            .expect("message")
            .contains("400"),
        "{status}"
    );
    assert_eq!(receiver.count(), 4, "the events before the refused one");
    assert_eq!(
        status["checkpoint"],
        events_position(&node, 3).await,
        "checkpoint right before the refused event"
    );
}

async fn events_position(node: &NodeProcess, revision: usize) -> serde_json::Value {
    node.read_stream("invoices-2").await[revision]["position"].clone()
}
