//! Affinity: connectors with `"affinity": "follower"` run only on members
//! with the follower role; while no follower is alive they wait, unassigned
//! with a reason, and they resume when a follower joins. Connectors with
//! the default affinity (leader) never run on a follower.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::support::assert_in_order_with_bounded_replays;
use crate::support::cluster::{until, Cluster};
use crate::support::deliveries::{assert_one_owner_at_a_time, deliveries, epochs, positions};
use crate::support::Receiver;

use super::{append_numbered, connector_ids, http_connector, wait_delivered, MAX_REPLAY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_follower_connectors_run_only_on_followers_and_wait_for_one() {
    let receiver = Receiver::start().await;
    let mut cluster = Cluster::start(&["m1"]).await;
    cluster.start_sidecar("f1", &["--role", "follower"]).await;
    let members = cluster.wait_alive(&["f1", "m0", "m1"]).await;
    let roles: BTreeMap<&str, &str> = members
        .iter()
        .map(|m| {
            (
                m["member"].as_str().expect("member"),
                m["role"].as_str().expect("role"),
            )
        })
        .collect();
    assert_eq!(
        roles,
        BTreeMap::from([("f1", "follower"), ("m0", "leader"), ("m1", "leader")]),
        "{members:?}"
    );

    let followers = connector_ids("fo", 4);
    let leaders = connector_ids("le", 4);
    for id in &followers {
        let mut definition = http_connector(&receiver, id);
        definition["affinity"] = json!("follower");
        cluster.member("m0").create_connector(id, definition).await;
    }
    for id in &leaders {
        cluster
            .member("f1")
            .create_connector(id, http_connector(&receiver, id))
            .await;
    }
    let all: Vec<String> = followers.iter().chain(&leaders).cloned().collect();
    let placed = until(Duration::from_secs(30), "placed by affinity", || async {
        let owners = cluster.placement(&all).await?;
        let misplaced: Vec<_> = owners
            .iter()
            .filter(|(id, owner)| (followers.contains(id)) != (owner.as_str() == "f1"))
            .collect();
        if misplaced.is_empty() {
            Ok(owners)
        } else {
            Err(format!("misplaced: {misplaced:?}"))
        }
    })
    .await;
    let mut expected = BTreeMap::new();
    for id in &all {
        expected.insert(
            id.clone(),
            append_numbered(cluster.store(), id, 0..10).await,
        );
    }
    wait_delivered(&receiver, &expected, Duration::from_secs(30)).await;

    // The only follower leaves: its connectors wait, unassigned.
    cluster.take("f1").terminate();
    for id in &followers {
        until(
            Duration::from_secs(15),
            &format!("{id} unassigned"),
            || async {
                let status = cluster.store().status(id).await;
                let reason = status["reason"].as_str().unwrap_or_default();
                // The reason names what it waits for.
                if status["state"] == "unassigned"
                    && status["member"].is_null()
                    && reason.contains("follower")
                {
                    Ok(())
                } else {
                    Err(format!("{status}"))
                }
            },
        )
        .await;
    }
    let status = cluster.store().status(&followers[0]).await;
    eprintln!("without a follower: {status}");
    let held: usize = followers
        .iter()
        .map(|id| deliveries(&receiver).get(id).map_or(0, Vec::len))
        .sum();
    for id in &all {
        let appended = append_numbered(cluster.store(), id, 10..20).await;
        expected.get_mut(id).expect("expected").extend(appended);
    }
    let leaders_expected: BTreeMap<String, Vec<u64>> = leaders
        .iter()
        .map(|id| (id.clone(), expected[id].clone()))
        .collect();
    wait_delivered(&receiver, &leaders_expected, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let now: usize = followers
        .iter()
        .map(|id| deliveries(&receiver).get(id).map_or(0, Vec::len))
        .sum();
    assert_eq!(now, held, "no leader runs a follower connector");

    // A follower joins: they resume there.
    cluster.start_sidecar("f2", &["--role", "follower"]).await;
    let got = wait_delivered(&receiver, &expected, Duration::from_secs(30)).await;
    for id in &followers {
        let members = assert_one_owner_at_a_time(id, &got[id]);
        assert_eq!(members, ["f1", "f2"], "{id}");
        assert_in_order_with_bounded_replays(&positions(&got[id]), &expected[id], 1, MAX_REPLAY);
    }
    for id in &leaders {
        let members = assert_one_owner_at_a_time(id, &got[id]);
        assert_eq!(members, [placed[id].clone()], "{id} stayed on its leader");
        assert_eq!(epochs(&got[id]).len(), 1, "{id} was never claimed again");
        assert_in_order_with_bounded_replays(&positions(&got[id]), &expected[id], 0, 0);
    }
}
