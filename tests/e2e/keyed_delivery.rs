//! `"ordering": {"by": "stream"}` with the real binary and a real receiver:
//! several requests in flight, each stream's events in order, and nothing
//! lost when the node is SIGKILLed during delivery.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::support::{assert_in_order_with_bounded_replays, event, NodeProcess, Receiver};

const STREAMS: u64 = 20;
const PER_STREAM: u64 = 60;

/// Appends `PER_STREAM` events to each of `STREAMS` streams, taking turns;
/// the log positions of each stream's events, in order.
async fn append_interleaved(node: &NodeProcess) -> BTreeMap<String, Vec<u64>> {
    let mut positions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for round in 0..PER_STREAM / 10 {
        for s in 0..STREAMS {
            let stream = format!("accounts-{s}");
            let batch: Vec<_> = (0..10)
                .map(|i| event("Posted", json!({ "n": round * 10 + i })))
                .collect();
            let last = node.append(&stream, &batch).await;
            positions.entry(stream).or_default().extend(last - 9..=last);
        }
        node.append("noise-1", &[event("Noise", json!({}))]).await;
    }
    positions
}

/// The positions the receiver accepted, per stream, in arrival order.
fn received_per_stream(receiver: &Receiver) -> BTreeMap<String, Vec<u64>> {
    let mut per_stream: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for received in receiver.accepted() {
        per_stream
            .entry(received.header("esdb-record-stream-id").to_owned())
            .or_default()
            .push(received.position());
    }
    per_stream
}

fn connector(receiver: &Receiver) -> serde_json::Value {
    json!({
        "sink": { "type": "http", "url": receiver.url },
        "filter": { "streams": { "prefixes": ["accounts-"] } },
        "ordering": { "by": "stream", "concurrency": 8 },
        "checkpoint": { "everyEvents": 50, "everyMs": 600000 }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_stream_keeps_each_streams_order_with_several_requests_in_flight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    receiver.set_delay(Duration::from_millis(2));
    let node = NodeProcess::start(dir.path()).await;
    let expected = append_interleaved(&node).await;
    node.create_connector("accounts", connector(&receiver))
        .await;
    let total = (STREAMS * PER_STREAM) as usize;
    receiver
        .wait_for_distinct(total, Duration::from_secs(120), "every event")
        .await;
    let received = received_per_stream(&receiver);
    assert_eq!(received, expected, "each stream's events once, in order");
    assert!(
        receiver.most_in_flight() > 1,
        "requests overlapped (at most {} at once)",
        receiver.most_in_flight()
    );
    assert!(
        receiver.most_in_flight() <= 8,
        "at most `concurrency` at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_by_stream_delivery_loses_nothing_and_replays_each_stream_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    receiver.set_delay(Duration::from_millis(2));
    let mut node = NodeProcess::start(dir.path()).await;
    let expected = append_interleaved(&node).await;
    node.create_connector("accounts", connector(&receiver))
        .await;
    let total = (STREAMS * PER_STREAM) as usize;
    let mut kills = 0;
    for wait in [150, 400, 250] {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if receiver.count() >= total {
            break;
        }
        node.kill();
        kills += 1;
        node = NodeProcess::start(dir.path()).await;
    }
    assert!(kills >= 1, "the node was killed during delivery");
    receiver
        .wait_for_distinct(
            total,
            Duration::from_secs(120),
            "every event after the restarts",
        )
        .await;
    // Each stream: every event, in order, going back only at a restart (to
    // the checkpoint, so by at most the whole stream here).
    let received = received_per_stream(&receiver);
    assert_eq!(received.len(), expected.len(), "every stream");
    for (stream, positions) in &expected {
        assert_in_order_with_bounded_replays(&received[stream], positions, kills, PER_STREAM);
    }
}
