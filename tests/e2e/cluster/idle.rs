//! Idle cost: a cluster whose connectors have nothing to deliver appends
//! nothing to the store but the members' heartbeats. One member runs with
//! `--no-connectors`: it takes commands and runs nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::support::cluster::{Cluster, HEARTBEAT_MS, MEMBERS_STREAM};
use crate::support::Receiver;

use super::{connector_ids, create_through_every_member};

const THREE: [&str; 3] = ["m0", "m1", "m2"];
const WINDOW: Duration = Duration::from_secs(4);

/// The commit position of the last event in the store.
async fn last_position(cluster: &Cluster) -> u64 {
    let (status, body) = cluster
        .store()
        .get("/streams/%24all?direction=backwards&count=1")
        .await;
    assert_eq!(status, 200, "{body}");
    body["events"][0]["position"]
        .as_u64()
        .expect("a last event")
}

/// Every event after `position`, forwards.
async fn events_after(cluster: &Cluster, position: u64) -> Vec<Value> {
    let (status, body) = cluster
        .store()
        .get(&format!("/streams/%24all?from={}&count=4096", position + 1))
        .await;
    assert_eq!(status, 200, "{body}");
    body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["position"].as_u64().expect("position") > position)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_at_rest_appends_only_heartbeats() {
    let receiver = Receiver::start().await;
    let mut cluster = Cluster::start(&["m1", "m2"]).await;
    // A member that serves the API and runs no connectors.
    cluster.start_sidecar("a1", &["--no-connectors"]).await;
    let members = cluster.wait_alive(&["a1", "m0", "m1", "m2"]).await;
    for member in &members {
        let runs = member["member"] != "a1";
        assert_eq!(member["runsConnectors"], runs, "{member}");
    }
    let ids = connector_ids("idle", 6);
    // Creates go through every member, a1 included.
    create_through_every_member(&cluster, &receiver, &ids).await;
    // Balanced over the three that run connectors: none on a1.
    cluster.wait_balanced(&ids, &THREE).await;
    // Let the start of each connector settle (its first checkpoint).
    tokio::time::sleep(Duration::from_secs(2)).await;

    let from = last_position(&cluster).await;
    tokio::time::sleep(WINDOW).await;
    let appended = events_after(&cluster, from).await;
    let mut by_stream: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for event in &appended {
        let stream = event["stream"].as_str().expect("stream").to_owned();
        let bytes = event["data"].to_string().len();
        let entry = by_stream.entry(stream).or_default();
        entry.0 += 1;
        entry.1 += bytes;
    }
    eprintln!("appended in {WINDOW:?} at rest (events, data bytes): {by_stream:?}");
    let others: Vec<&Value> = appended
        .iter()
        .filter(|e| e["stream"] != MEMBERS_STREAM)
        .collect();
    assert!(
        others.is_empty(),
        "an idle cluster appends only heartbeats: {others:#?}"
    );
    // Four members, each heartbeating every HEARTBEAT_MS; at least a
    // third of the expected number shows the reading sees them.
    let heartbeats = by_stream.get(MEMBERS_STREAM).map_or(0, |(n, _)| *n) as u64;
    let floor = 4 * WINDOW.as_millis() as u64 / HEARTBEAT_MS / 3;
    assert!(
        heartbeats >= floor,
        "{heartbeats} heartbeats in {WINDOW:?}, at least {floor} expected"
    );
    assert_eq!(receiver.count(), 0, "nothing was delivered");
}
