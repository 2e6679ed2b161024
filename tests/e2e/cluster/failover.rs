//! Failover: a member SIGKILLed during delivery hands its connectors to the
//! survivors, which lose nothing; a member frozen (SIGSTOP) past its lease
//! sends nothing more once replaced, even after it wakes (SIGCONT), and no
//! checkpoint ever goes back; a member stalled past its own fence but within
//! its lease claims its connectors again and loses nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::assert_in_order_with_bounded_replays;
use crate::support::cluster::{read_checkpoints, until, Checkpoints, Cluster};
use crate::support::deliveries::{
    assert_one_owner_at_a_time, deliveries, epochs, positions, Delivery,
};
use crate::support::Receiver;

use super::{
    append_numbered, connector_ids, create_through_every_member, wait_delivered, MAX_REPLAY,
};

const THREE: [&str; 3] = ["m0", "m1", "m2"];
/// The slowest a moved connector may be to deliver again after its member
/// dies: the lease (3 s) plus a generous margin.
const MOVE_DEADLINE: Duration = Duration::from_secs(10);
/// Each request takes this long at the receiver, so delivery lasts seconds.
const RECEIVER_DELAY: Duration = Duration::from_millis(3);

/// Waits until each of `ids` got at least `count` requests.
async fn wait_delivering(receiver: &Receiver, ids: &[String], count: usize) {
    until(Duration::from_secs(30), "delivery under way", || async {
        let got = deliveries(receiver);
        match ids
            .iter()
            .find(|id| got.get(*id).map_or(0, Vec::len) < count)
        {
            Some(id) => Err(format!("{id} has fewer than {count} requests")),
            None => Ok(()),
        }
    })
    .await;
}

/// Three members (the store node and sidecars m1, m2) running `count`
/// connectors named `prefix`NN, balanced, with `events` events appended to
/// each one's stream: the receiver, the cluster, the ids, who runs each, and
/// the positions each must deliver.
async fn loaded_cluster(
    prefix: &str,
    count: usize,
    events: u64,
) -> (
    Receiver,
    Cluster,
    Vec<String>,
    BTreeMap<String, String>,
    BTreeMap<String, Vec<u64>>,
) {
    let receiver = Receiver::start().await;
    receiver.set_delay(RECEIVER_DELAY);
    let cluster = Cluster::start(&["m1", "m2"]).await;
    cluster.wait_alive(&THREE).await;
    let ids = connector_ids(prefix, count);
    create_through_every_member(&cluster, &receiver, &ids).await;
    let owners = cluster.wait_balanced(&ids, &THREE).await;
    let mut expected = BTreeMap::new();
    for id in &ids {
        expected.insert(
            id.clone(),
            append_numbered(cluster.store(), id, 0..events).await,
        );
    }
    (receiver, cluster, ids, owners, expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_member_killed_during_delivery_hands_its_connectors_over_losing_nothing() {
    let (receiver, mut cluster, ids, owners, expected) = loaded_cluster("k", 9, 1000).await;

    // The sidecar running the most connectors dies mid-delivery.
    let victim = ["m1", "m2"]
        .into_iter()
        .max_by_key(|m| owners.values().filter(|o| o == m).count())
        .expect("a sidecar");
    let moving: Vec<String> = ids
        .iter()
        .filter(|id| owners[*id] == victim)
        .cloned()
        .collect();
    assert!(!moving.is_empty(), "{victim} runs connectors: {owners:?}");
    wait_delivering(&receiver, &moving, 30).await;
    cluster.take(victim).kill();
    let killed_at = Instant::now();

    let got = wait_delivered(&receiver, &expected, Duration::from_secs(90)).await;
    let mut slowest = Duration::ZERO;
    for id in &ids {
        let members = assert_one_owner_at_a_time(id, &got[id]);
        let received = positions(&got[id]);
        if moving.contains(id) {
            assert_eq!(members.len(), 2, "{id} moved once: {members:?}");
            assert_eq!(members[0], victim, "{id}");
            let first = got[id]
                .iter()
                .find(|d| d.member != victim)
                .expect("a delivery by the new owner");
            let took = first.arrived.duration_since(killed_at);
            assert!(
                took < MOVE_DEADLINE,
                "{id} delivered again by {} only {took:?} after the kill",
                first.member
            );
            slowest = slowest.max(took);
            assert_in_order_with_bounded_replays(&received, &expected[id], 1, MAX_REPLAY);
        } else {
            assert_eq!(members, [owners[id].clone()], "{id} stayed where it was");
            assert_eq!(
                epochs(&got[id]).len(),
                1,
                "{id} stayed on {} but was claimed again; hand-overs:\n{}",
                owners[id],
                cluster.hand_overs()
            );
            assert_in_order_with_bounded_replays(&received, &expected[id], 0, 0);
        }
    }
    eprintln!(
        "{} connectors of the killed {victim} delivered again at most {slowest:?} after the kill",
        moving.len()
    );
    let survivors: Vec<&str> = THREE.into_iter().filter(|m| *m != victim).collect();
    cluster.wait_alive(&survivors).await;
    cluster.wait_balanced(&ids, &survivors).await;
}

/// Reads the checkpoints of `ids` every 100 ms until `stop`; returns every
/// one seen, by connector and revision: `(round, commit position)`.
fn watch_checkpoints(
    cluster: &Cluster,
    ids: &[String],
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<BTreeMap<String, Checkpoints>> {
    let client = cluster.store().client.clone();
    let base = cluster.store().base.clone();
    let ids = ids.to_vec();
    tokio::spawn(async move {
        let mut seen: BTreeMap<String, Checkpoints> = BTreeMap::new();
        loop {
            let last_look = stop.load(Ordering::SeqCst);
            for id in &ids {
                let kept = read_checkpoints(&client, &base, id).await;
                seen.entry(id.clone()).or_default().extend(kept);
            }
            if last_look {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_member_frozen_past_its_lease_sends_nothing_once_replaced() {
    let (receiver, cluster, ids, owners, expected) = loaded_cluster("z", 6, 1200).await;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_checkpoints(&cluster, &ids, Arc::clone(&stop));

    let frozen = "m2";
    let moving: Vec<String> = ids
        .iter()
        .filter(|id| owners[*id] == frozen)
        .cloned()
        .collect();
    assert!(!moving.is_empty(), "{frozen} runs connectors: {owners:?}");
    wait_delivering(&receiver, &moving, 30).await;
    cluster.member(frozen).signal("STOP");
    let frozen_at = Instant::now();
    until(
        Duration::from_secs(20),
        "the frozen member's connectors delivered by others",
        || async {
            let got = deliveries(&receiver);
            match moving
                .iter()
                .find(|id| got[*id].iter().all(|d| d.member == frozen))
            {
                Some(id) => Err(format!("{id} is delivered by nobody else yet")),
                None => Ok(()),
            }
        },
    )
    .await;
    eprintln!(
        "the connectors of the frozen {frozen} delivered by others {:?} after the freeze",
        frozen_at.elapsed()
    );
    // The frozen member wakes while its connectors run elsewhere.
    cluster.member(frozen).signal("CONT");
    cluster.wait_alive(&THREE).await;
    let got = wait_delivered(&receiver, &expected, Duration::from_secs(90)).await;
    stop.store(true, Ordering::SeqCst);
    let checkpoints = watcher.await.expect("the checkpoint watcher");

    for id in &ids {
        // A request the woken member sent under its old epoch after the new
        // owner started fails here.
        let members = assert_one_owner_at_a_time(id, &got[id]);
        if moving.contains(id) {
            assert_eq!(members[0], frozen, "{id}: {members:?}");
            assert!(members.len() >= 2, "{id} moved: {members:?}");
        }
        // A hand-over away and maybe one back once the member returns; on a
        // loaded machine another member's lease may lapse too, and each
        // new ownership epoch resumes from the checkpoint once.
        let replays = replays_allowed(&got[id]);
        assert_in_order_with_bounded_replays(
            &positions(&got[id]),
            &expected[id],
            replays,
            MAX_REPLAY,
        );
        let seen = &checkpoints[id];
        assert!(!seen.is_empty(), "{id} saved checkpoints");
        let in_order: Vec<&(u64, u64)> = seen.values().collect();
        for pair in in_order.windows(2) {
            assert!(
                pair[0] <= pair[1],
                "{id}: a checkpoint went back from {:?} to {:?}; all seen by revision: {seen:?}",
                pair[0],
                pair[1]
            );
        }
    }
}

/// A stall longer than the member's fence (the lease less two heartbeats)
/// but shorter than the lease: its own lease lapses, so it stops delivering
/// and must claim its connectors again, while the others may not yet count
/// it dead. However that race ends, every connector delivers everything.
const STALL: Duration = Duration::from_millis(2500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_member_stalled_past_its_fence_but_within_its_lease_resumes_delivery() {
    let (receiver, cluster, ids, owners, expected) = loaded_cluster("s", 6, 800).await;
    let stalled = "m2";
    let stalling: Vec<String> = ids
        .iter()
        .filter(|id| owners[*id] == stalled)
        .cloned()
        .collect();
    wait_delivering(&receiver, &stalling, 30).await;
    cluster.member(stalled).signal("STOP");
    tokio::time::sleep(STALL).await;
    cluster.member(stalled).signal("CONT");

    let got = wait_delivered(&receiver, &expected, Duration::from_secs(60)).await;
    for id in &ids {
        let members = assert_one_owner_at_a_time(id, &got[id]);
        eprintln!("{id}: owners {members:?}, epochs {:?}", epochs(&got[id]));
        let replays = replays_allowed(&got[id]);
        assert_in_order_with_bounded_replays(
            &positions(&got[id]),
            &expected[id],
            replays,
            MAX_REPLAY,
        );
    }
    cluster.wait_alive(&THREE).await;
    cluster.wait_balanced(&ids, &THREE).await;
}

/// Replays a connector may show: two (a hand-over away and one back), or
/// one per change of ownership epoch when there were more (each owner,
/// under each claim, resumes from the checkpoint once).
fn replays_allowed(deliveries: &[Delivery]) -> usize {
    epochs(deliveries).len().saturating_sub(1).max(2)
}
