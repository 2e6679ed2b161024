//! SIGKILL the node at random moments during delivery and restart it: the
//! receiver has every event, in order, duplicates only from the last
//! checkpoint on.

use std::time::Duration;

use rand::Rng;
use serde_json::json;

use crate::support::{assert_in_order_with_bounded_replays, event, NodeProcess, Receiver};

const EVERY_EVENTS: u64 = 50;
/// Per-event HTTP delivery hands the sink at most this many events per call
/// and checkpoints between calls.
const PER_EVENT_BATCH: u64 = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_delivery_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    // A slow destination keeps delivery going while the node is killed.
    receiver.set_delay(Duration::from_millis(1));
    let mut node = NodeProcess::start(dir.path()).await;

    let mut expected_positions = Vec::new();
    for chunk in 0..6 {
        let batch: Vec<_> = (0..500)
            .map(|i| event("Paid", json!({ "n": chunk * 500 + i })))
            .collect();
        let last = node.append(&format!("payments-{chunk}"), &batch).await;
        expected_positions.extend(last - 499..=last);
        // Noise that the filter drops.
        node.append("noise-1", &[event("Noise", json!({}))]).await;
    }
    node.create_connector(
        "payments",
        json!({
            "sink": { "type": "http", "url": receiver.url },
            "filter": { "streams": { "prefixes": ["payments-"] } },
            "checkpoint": { "everyEvents": EVERY_EVENTS, "everyMs": 600000 }
        }),
    )
    .await;

    let mut kills = 0;
    for _ in 0..4 {
        let wait = rand::rng().random_range(100..600);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if receiver.count() >= expected_positions.len() {
            break;
        }
        node.kill();
        kills += 1;
        node = NodeProcess::start(dir.path()).await;
    }
    assert!(kills >= 1, "the node was killed during delivery");

    let received = receiver
        .wait_for_distinct(
            expected_positions.len(),
            Duration::from_secs(120),
            "every event after the restarts",
        )
        .await;
    assert_in_order_with_bounded_replays(
        &received,
        &expected_positions,
        kills,
        EVERY_EVENTS + PER_EVENT_BATCH,
    );
}
