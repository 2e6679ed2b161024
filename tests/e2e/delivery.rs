//! 10,000 events over several streams; a stream-prefix filter; exactly the
//! matching events arrive, in log order, with their id and position headers.

use std::time::Duration;

use serde_json::json;

use crate::support::{event, eventually, NodeProcess, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_events_arrive_in_log_order_with_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;

    // 10,000 events over five streams, in batches of 250, interleaved.
    let streams = ["orders-1", "orders-2", "orders-3", "users-1", "audit-1"];
    let mut expected = Vec::new(); // (id, stream, revision) of orders-* events in log order
    let mut revisions = [0u64; 5];
    for round in 0..8 {
        for (s, stream) in streams.iter().enumerate() {
            let batch: Vec<_> = (0..250)
                .map(|i| {
                    event(
                        "Happened",
                        json!({ "round": round, "i": i, "stream": stream }),
                    )
                })
                .collect();
            node.append(stream, &batch).await;
            if stream.starts_with("orders-") {
                for e in &batch {
                    expected.push((
                        e["eventId"].as_str().expect("id").to_owned(),
                        stream.to_string(),
                        revisions[s],
                    ));
                    revisions[s] += 1;
                }
            } else {
                revisions[s] += 250;
            }
        }
    }
    assert_eq!(expected.len(), 6000);

    node.create_connector(
        "orders-hook",
        json!({
            "sink": { "type": "http", "url": format!("{}/hook", receiver.url) },
            "filter": { "streams": { "prefixes": ["orders-"] } }
        }),
    )
    .await;

    eventually(Duration::from_secs(120), "6,000 deliveries", || async {
        (receiver.count() >= expected.len()).then_some(())
    })
    .await;
    // Nothing else arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = receiver.accepted();
    assert_eq!(got.len(), expected.len(), "exactly the matching events");

    let mut last_position = 0;
    for (received, (id, stream, revision)) in got.iter().zip(&expected) {
        assert_eq!(received.path, "/hook");
        assert_eq!(received.header("esdb-record-id"), id);
        assert_eq!(received.header("esdb-record-stream-id"), stream);
        assert_eq!(
            received.header("esdb-record-stream-revision"),
            revision.to_string()
        );
        assert_eq!(received.header("esdb-record-schema-subject"), "Happened");
        assert_eq!(received.header("esdb-connector-id"), "orders-hook");
        let position = received.position();
        assert!(
            position > last_position,
            "positions grow: {position} after {last_position}"
        );
        last_position = position;
        let body: serde_json::Value = serde_json::from_slice(&received.body).expect("JSON body");
        assert_eq!(body["stream"], stream.as_str());
    }

    let status = node.status("orders-hook").await;
    assert_eq!(status["state"], "running");
    assert_eq!(status["delivered"], 6000);
    eventually(
        Duration::from_secs(10),
        "a checkpoint at the last delivered event",
        || async {
            let status = node.status("orders-hook").await;
            (status["checkpoint"].as_u64() >= Some(last_position)).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_mode_delivers_arrays_of_envelopes_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    for chunk in 0..4 {
        let batch: Vec<_> = (0..500)
            .map(|i| event("Tick", json!({ "n": chunk * 500 + i })))
            .collect();
        node.append("ticks-1", &batch).await;
    }
    node.create_connector(
        "ticks-batch",
        json!({
            "sink": { "type": "http", "url": receiver.url, "batch": { "maxEvents": 300, "lingerMs": 20 } },
            "filter": { "eventTypes": { "regex": "^Tick$" } }
        }),
    )
    .await;
    let numbers = eventually(
        Duration::from_secs(60),
        "2,000 events in batches",
        || async {
            let numbers: Vec<u64> = receiver
                .accepted()
                .iter()
                .flat_map(|r| {
                    let batch: Vec<serde_json::Value> =
                        serde_json::from_slice(&r.body).expect("array body");
                    assert!(batch.len() <= 300, "batch of {} events", batch.len());
                    batch
                        .into_iter()
                        .map(|e| e["data"]["n"].as_u64().expect("n"))
                })
                .collect();
            (numbers.len() >= 2000).then_some(numbers)
        },
    )
    .await;
    assert_eq!(numbers, (0..2000).collect::<Vec<_>>());
    assert!(
        receiver.count() < 2000 / 100,
        "events travel in batches, got {} requests",
        receiver.count()
    );
}
