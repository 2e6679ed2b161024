//! Placement: 32 connectors spread evenly over four members, each delivered
//! by exactly one of them; a fifth member joins during delivery and takes a
//! share, and only the connectors that move restart.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support::assert_in_order_with_bounded_replays;
use crate::support::cluster::{balanced, counts, Cluster};
use crate::support::deliveries::{assert_one_owner_at_a_time, epochs, positions, Delivery};
use crate::support::Receiver;

use super::{
    append_numbered, connector_ids, create_through_every_member, wait_delivered, MAX_REPLAY,
};

const FOUR: [&str; 4] = ["m0", "m1", "m2", "m3"];
const FIVE: [&str; 5] = ["m0", "m1", "m2", "m3", "m4"];

/// Four members running 32 connectors, each of which delivered its first 40
/// events.
struct Spread {
    receiver: Receiver,
    cluster: Cluster,
    ids: Vec<String>,
    /// Connector -> the member running it.
    owners: BTreeMap<String, String>,
    /// Connector -> the positions appended for it.
    expected: BTreeMap<String, Vec<u64>>,
    got: BTreeMap<String, Vec<Delivery>>,
}

/// Starts four members, creates 32 connectors through all of them, waits
/// for an even placement and delivers 40 events to each connector; checks
/// that each connector's events came from the member its status names,
/// exactly once, in order.
async fn spread_over_four() -> Spread {
    let receiver = Receiver::start().await;
    let cluster = Cluster::start(&["m1", "m2", "m3"]).await;
    cluster.wait_alive(&FOUR).await;
    let ids = connector_ids("c", 32);
    create_through_every_member(&cluster, &receiver, &ids).await;
    let owners = cluster.wait_balanced(&ids, &FOUR).await;
    eprintln!("spread over four members: {:?}", counts(&owners, &FOUR));

    let mut expected = BTreeMap::new();
    for id in &ids {
        expected.insert(
            id.clone(),
            append_numbered(cluster.store(), id, 0..40).await,
        );
    }
    let got = wait_delivered(&receiver, &expected, Duration::from_secs(60)).await;
    for id in &ids {
        let members = assert_one_owner_at_a_time(id, &got[id]);
        assert_eq!(
            members,
            [owners[id].clone()],
            "{id} is delivered by the member its status names"
        );
        assert_in_order_with_bounded_replays(&positions(&got[id]), &expected[id], 0, 0);
    }
    Spread {
        receiver,
        cluster,
        ids,
        owners,
        expected,
        got,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_spreads_connectors_evenly_and_runs_each_on_one_member() {
    let Spread {
        cluster,
        ids,
        owners,
        got,
        ..
    } = spread_over_four().await;
    // The receivers see the same spread.
    let by_header: BTreeMap<String, String> = got
        .iter()
        .map(|(id, d)| (id.clone(), d[0].member.clone()))
        .collect();
    balanced(&by_header, &FOUR).unwrap_or_else(|e| panic!("by the member header: {e}"));
    // Asked of m0, a connector running elsewhere shows the status its member
    // last published, with its age; one running on m0 shows its own.
    for id in &ids {
        let status = cluster.store().status(id).await;
        if owners[id] == "m0" {
            assert!(status.get("ageMs").is_none(), "{id} runs on m0: {status}");
        } else {
            let age = status["ageMs"]
                .as_u64()
                .unwrap_or_else(|| panic!("{id}: {status}"));
            assert!(
                age < 5_000,
                "{id}'s published status is {age} ms old: {status}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_joiner_takes_a_share_and_only_the_connectors_that_move_restart() {
    let Spread {
        receiver,
        mut cluster,
        ids,
        owners: before,
        mut expected,
        ..
    } = spread_over_four().await;

    // m4 joins while events keep coming.
    let mut next = 40;
    append_round(&cluster, &ids, &mut expected, &mut next).await;
    cluster.start_sidecar("m4", &[]).await;
    let joined_at = Instant::now();
    let mut settled = false;
    let mut rounds_after_settling = 0;
    while rounds_after_settling < 3 {
        append_round(&cluster, &ids, &mut expected, &mut next).await;
        if settled {
            rounds_after_settling += 1;
        } else if let Ok(owners) = cluster.placement(&ids).await {
            if balanced(&owners, &FIVE).is_ok() {
                eprintln!(
                    "rebalanced {:?} after m4 started: {:?}",
                    joined_at.elapsed(),
                    counts(&owners, &FIVE)
                );
                settled = true;
            }
        }
        assert!(
            joined_at.elapsed() < Duration::from_secs(30),
            "no balanced placement over {FIVE:?} within 30 s; last: {:?}",
            cluster.placement(&ids).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = wait_delivered(&receiver, &expected, Duration::from_secs(60)).await;
    // Where each connector ended up, once all is delivered.
    let after = cluster.wait_balanced(&ids, &FIVE).await;
    let moved: Vec<&String> = ids.iter().filter(|id| before[*id] != after[*id]).collect();
    let moves: Vec<String> = moved
        .iter()
        .map(|id| format!("{id}: {} -> {}", before[*id], after[*id]))
        .collect();
    eprintln!("moved at the join: {moves:?}");
    assert!(!moved.is_empty(), "m4 took a share");
    for id in &ids {
        let members = assert_one_owner_at_a_time(id, &got[id]);
        let received = positions(&got[id]);
        if before[id] == after[id] {
            assert_eq!(members, [before[id].clone()], "{id} stayed on its member");
            assert_eq!(
                epochs(&got[id]).len(),
                1,
                "{id} stayed on {} but was claimed again; hand-overs:\n{}",
                before[id],
                cluster.hand_overs()
            );
            // It was not restarted: no gap, no replay.
            assert_in_order_with_bounded_replays(&received, &expected[id], 0, 0);
        } else {
            assert_eq!(
                after[id], "m4",
                "{id} moved from {} to {}: only the joiner takes connectors; moves: {moves:?}; hand-overs:\n{}",
                before[id], after[id], cluster.hand_overs()
            );
            assert_eq!(members, [before[id].clone(), after[id].clone()], "{id}");
            assert_in_order_with_bounded_replays(&received, &expected[id], 1, MAX_REPLAY);
        }
    }
}

/// Appends two more numbered events for each of `ids`.
async fn append_round(
    cluster: &Cluster,
    ids: &[String],
    expected: &mut BTreeMap<String, Vec<u64>>,
    next: &mut u64,
) {
    for id in ids {
        let appended = append_numbered(cluster.store(), id, *next..*next + 2).await;
        expected.get_mut(id).expect("expected").extend(appended);
    }
    *next += 2;
}
