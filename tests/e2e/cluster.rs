//! Clusters: an embedded node (`m0`, the store) and sidecars attached to it
//! share the enabled connectors; every connector runs on exactly one member.
//! Each scenario runs real processes on loopback and checks what real
//! receivers got: which member sent each request, under which ownership
//! epoch, every event in order.
//!
//! - [`placement`]: an even spread, one member per connector, a member that
//!   joins takes a share and only the connectors that move restart;
//! - [`failover`]: a SIGKILLed member's connectors move and lose nothing; a
//!   member frozen past its lease sends nothing once replaced and no
//!   checkpoint goes back; a short stall loses nothing either;
//! - [`commands`]: commands sent to any member are carried out by the owner;
//! - [`affinity`]: follower connectors run only on followers and wait,
//!   unassigned, while there is none;
//! - [`idle`]: an idle cluster appends nothing but heartbeats.

mod affinity;
mod commands;
mod failover;
mod idle;
mod placement;

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::cluster::{until, Cluster};
use crate::support::deliveries::{deliveries, Delivery};
use crate::support::{event, NodeProcess, Receiver};

/// Checkpoint after this many events.
const EVERY_EVENTS: u64 = 20;
/// Per-event HTTP delivery hands the sink at most this many events per call
/// and checkpoints between calls.
const PER_EVENT_BATCH: u64 = 32;
/// The furthest back a new owner starts: the last checkpoint.
const MAX_REPLAY: u64 = EVERY_EVENTS + PER_EVENT_BATCH;

/// `count` connector ids `{prefix}00`, `{prefix}01`, ...
fn connector_ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i:02}")).collect()
}

/// A connector that sends the events of the streams `{id}-*` to
/// `{receiver}/{id}`, one request per event.
fn http_connector(receiver: &Receiver, id: &str) -> Value {
    json!({
        "sink": { "type": "http", "url": format!("{}/{id}", receiver.url) },
        "filter": { "streams": { "prefixes": [format!("{id}-")] } },
        "checkpoint": { "everyEvents": EVERY_EVENTS }
    })
}

/// Creates `ids` as [`http_connector`]s, sending each create to the next
/// member in turn.
async fn create_through_every_member(cluster: &Cluster, receiver: &Receiver, ids: &[String]) {
    let names = cluster.names();
    for (id, member) in ids.iter().zip(names.iter().cycle()) {
        cluster
            .member(member)
            .create_connector(id, http_connector(receiver, id))
            .await;
    }
}

/// Appends events numbered `numbers` to stream `{id}-1`; returns their log
/// positions.
async fn append_numbered(store: &NodeProcess, id: &str, numbers: Range<u64>) -> Vec<u64> {
    let count = numbers.end - numbers.start;
    let batch: Vec<Value> = numbers
        .map(|n| event("Numbered", json!({ "n": n })))
        .collect();
    let last = store.append(&format!("{id}-1"), &batch).await;
    (last + 1 - count..=last).collect()
}

/// Waits until the receiver got every position of `expected` (connector ->
/// positions) at least once; returns what it got, by connector.
async fn wait_delivered(
    receiver: &Receiver,
    expected: &BTreeMap<String, Vec<u64>>,
    timeout: Duration,
) -> BTreeMap<String, Vec<Delivery>> {
    until(timeout, "every event delivered", || async {
        let got = deliveries(receiver);
        for (id, positions) in expected {
            let delivered: std::collections::BTreeSet<u64> = got
                .get(id)
                .map(|d| d.iter().map(|d| d.position).collect())
                .unwrap_or_default();
            let missing = positions.iter().filter(|p| !delivered.contains(p)).count();
            if missing > 0 {
                return Err(format!(
                    "{id} misses {missing} of {} events",
                    positions.len()
                ));
            }
        }
        Ok(got)
    })
    .await
}
