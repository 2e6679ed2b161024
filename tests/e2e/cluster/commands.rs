//! Commands sent to a member that does not run the connector (disable,
//! enable, reset, reconfigure, delete) are carried out by the member that
//! does, within about a second.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::cluster::{until, Cluster};
use crate::support::deliveries::{deliveries, positions};
use crate::support::{NodeProcess, Receiver};

use super::{append_numbered, http_connector};

const TWO: [&str; 2] = ["m0", "m1"];
/// How long the owner may take to act on a command sent elsewhere.
const ACT_DEADLINE: Duration = Duration::from_secs(5);
/// How long to watch for requests that must not come.
const QUIET: Duration = Duration::from_millis(1500);

/// The member running `id` (waiting until one does) and another member.
async fn owner_and_other(cluster: &Cluster, id: &str) -> (String, String) {
    let owners = until(ACT_DEADLINE * 2, &format!("{id} running"), || async {
        cluster.placement(&[id.to_owned()]).await
    })
    .await;
    let owner = owners[id].clone();
    let other = TWO
        .into_iter()
        .find(|m| *m != owner)
        .expect("another member")
        .to_owned();
    (owner, other)
}

/// Waits until `id`'s status, asked of `member`, satisfies `check`; returns
/// how long that took.
async fn wait_status(
    member: &NodeProcess,
    id: &str,
    what: &str,
    check: impl Fn(u16, &Value) -> bool,
) -> Duration {
    let started = Instant::now();
    until(ACT_DEADLINE, what, || async {
        let (status, body) = member.get(&format!("/connectors/{id}")).await;
        if check(status, &body) {
            Ok(())
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await;
    started.elapsed()
}

/// Waits until no member says it runs `id` (`GET /members`); returns how
/// long that took.
async fn wait_run_by_nobody(cluster: &Cluster, id: &str) -> Duration {
    let started = Instant::now();
    until(ACT_DEADLINE, &format!("no member running {id}"), || async {
        let members = cluster.members().await;
        let running = members.iter().any(|m| {
            m["connectors"]
                .as_array()
                .expect("connectors")
                .contains(&json!(id))
        });
        if running {
            Err(format!("{members:?}"))
        } else {
            Ok(())
        }
    })
    .await;
    started.elapsed()
}

/// The log positions `receiver` got at `path`, in arrival order.
fn positions_at(receiver: &Receiver, path: &str) -> Vec<u64> {
    receiver
        .accepted()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.position())
        .collect()
}

/// Waits until `receiver` got `expected` (in this order) as the last
/// requests at `path`.
async fn wait_positions_at(receiver: &Receiver, path: &str, expected: &[u64]) {
    until(
        ACT_DEADLINE * 2,
        &format!("{expected:?} at {path}"),
        || async {
            let got = positions_at(receiver, path);
            if got.ends_with(expected) {
                Ok(())
            } else {
                Err(format!("got {got:?}"))
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_commands_sent_to_any_member_are_carried_out_by_the_owner() {
    let receiver = Receiver::start().await;
    let cluster = Cluster::start(&["m1"]).await;
    cluster.wait_alive(&TWO).await;
    let id = "cmd";
    let store = cluster.store();
    cluster
        .member("m1")
        .create_connector(id, http_connector(&receiver, id))
        .await;
    let first = append_numbered(store, id, 0..10).await;
    wait_positions_at(&receiver, "/cmd", &first).await;

    // Disable through a member that does not run it: the owner stops.
    let (owner, other) = owner_and_other(&cluster, id).await;
    let (status, body) = cluster
        .member(&other)
        .post(&format!("/connectors/{id}/disable"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    wait_status(
        cluster.member(&owner),
        id,
        "disabled on its owner",
        |_, body| body["status"]["state"] == "disabled",
    )
    .await;
    let took = wait_run_by_nobody(&cluster, id).await;
    eprintln!("disable sent to {other}, carried out by {owner} within {took:?}");
    let delivered = receiver.count();
    let second = append_numbered(store, id, 10..20).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        receiver.count(),
        delivered,
        "a disabled connector delivers nothing"
    );

    // Enable: the events held back arrive.
    let (status, body) = cluster
        .member(&other)
        .post(&format!("/connectors/{id}/enable"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    wait_positions_at(&receiver, "/cmd", &second).await;

    // Reset to the start through a member that does not run it: everything
    // is delivered again.
    let (owner, other) = owner_and_other(&cluster, id).await;
    let before_reset = deliveries(&receiver)[id].len();
    let (status, body) = cluster
        .member(&other)
        .post(
            &format!("/connectors/{id}/reset"),
            &json!({ "to": "start" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let everything: Vec<u64> = first.iter().chain(&second).copied().collect();
    let started = Instant::now();
    until(ACT_DEADLINE * 2, "everything delivered again", || async {
        let got = positions(&deliveries(&receiver)[id]);
        if got[before_reset..] == everything[..] {
            Ok(())
        } else {
            Err(format!(
                "expected {everything:?} after the reset, got {:?} (before it: {:?}); hand-overs:\n{}",
                &got[before_reset..],
                &got[..before_reset],
                cluster.hand_overs()
            ))
        }
    })
    .await;
    eprintln!(
        "reset sent to {other}, {owner} delivered everything again within {:?}",
        started.elapsed()
    );

    // Reconfigure through a member that does not run it: new events go to
    // the new destination only.
    let (owner, other) = owner_and_other(&cluster, id).await;
    let (_, current) = cluster
        .member(&other)
        .get(&format!("/connectors/{id}"))
        .await;
    let mut definition = current["definition"].clone();
    definition["sink"]["url"] = json!(format!("{}/cmd-v2", receiver.url));
    let (status, body) = cluster
        .member(&other)
        .call(Method::PUT, &format!("/connectors/{id}"), Some(&definition))
        .await;
    assert_eq!(status, 200, "{body}");
    wait_status(
        cluster.member(&owner),
        id,
        "the new definition on its owner",
        |_, body| body["definition"]["sink"]["url"] == definition["sink"]["url"],
    )
    .await;
    // The owner has about a second to restart the connector with it.
    tokio::time::sleep(QUIET).await;
    let third = append_numbered(store, id, 20..25).await;
    wait_positions_at(&receiver, "/cmd-v2", &third).await;
    assert!(
        positions_at(&receiver, "/cmd")
            .iter()
            .all(|p| !third.contains(p)),
        "nothing new goes to the old destination"
    );

    // Delete through a member that does not run it: the owner stops and
    // forgets it.
    let (owner, other) = owner_and_other(&cluster, id).await;
    let (status, body) = cluster
        .member(&other)
        .call(Method::DELETE, &format!("/connectors/{id}"), None)
        .await;
    assert_eq!(status, 204, "{body}");
    wait_status(
        cluster.member(&owner),
        id,
        "gone from its owner",
        |status, _| status == 404,
    )
    .await;
    let took = wait_run_by_nobody(&cluster, id).await;
    eprintln!("delete sent to {other}, carried out by {owner} within {took:?}");
    let delivered = receiver.count();
    append_numbered(store, id, 25..30).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        receiver.count(),
        delivered,
        "a deleted connector delivers nothing"
    );
}
