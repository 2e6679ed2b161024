//! The rules of [`decide`], one scenario each.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::activation::members::{self, Heartbeat};
use crate::activation::supervisor::RunKey;
use crate::connector::{ConnectorId, MemberRole, StartFrom};

const LEASE: Duration = Duration::from_secs(5);

fn me() -> Me {
    Me {
        name: "a".into(),
        incarnation: Uuid::from_u128(1),
        role: MemberRole::Leader,
        runs_connectors: true,
        lease: LEASE,
    }
}

fn connector(id: &str, enabled: bool, revision: u64) -> ConnectorState {
    ConnectorState {
        id: ConnectorId::parse(id).expect("id"),
        name: None,
        definition: serde_json::from_value(json!({ "sink": { "type": "console" } }))
            .expect("definition"),
        enabled,
        deleted: false,
        round: 0,
        round_start: StartFrom::Start,
        revision,
        pipeline_revision: revision,
        incarnation: 0,
        created: Utc::now(),
        updated: Utc::now(),
        defined: Utc::now(),
    }
}

fn owner(member: &str, incarnation: u128, revision: u64) -> Owner {
    Owner {
        revision,
        member: member.into(),
        incarnation: Uuid::from_u128(incarnation),
        released: false,
    }
}

fn heartbeat(member: &str, incarnation: u128) -> Heartbeat {
    members::heartbeat(member, Uuid::from_u128(incarnation))
}

fn view_with(connectors: &[ConnectorState]) -> View {
    let mut view = View::default();
    for c in connectors {
        view.connectors
            .insert(c.id.clone(), Known::Readable(Box::new(c.clone())));
    }
    view
}

fn run(revision: u64, epoch: u64, term: u64) -> RunInfo {
    RunInfo {
        key: RunKey {
            revision,
            epoch,
            term,
        },
        finished: false,
        faulted: false,
    }
}

#[tokio::test(start_paused = true)]
async fn an_unowned_connector_is_claimed_then_a_claimed_one_started() {
    let c = connector("c", true, 1);
    let mut view = view_with(std::slice::from_ref(&c));
    let actions = decide(&view, &me(), Some(1), &HashMap::new(), Instant::now());
    assert!(matches!(&actions[..], [Action::Claim { after: None, .. }]));

    view.owners.insert(c.id.clone(), owner("a", 1, 0));
    view.claims.insert(c.id.clone(), (0, 1));
    let actions = decide(&view, &me(), Some(1), &HashMap::new(), Instant::now());
    assert!(matches!(&actions[..], [Action::Start { epoch: 0, .. }]));
}

#[tokio::test(start_paused = true)]
async fn nothing_is_claimed_or_run_without_the_lease() {
    let c = connector("c", true, 1);
    let mut view = view_with(std::slice::from_ref(&c));
    view.owners.insert(c.id.clone(), owner("a", 1, 0));
    view.claims.insert(c.id.clone(), (0, 1));
    let runs = HashMap::from([(c.id.clone(), run(1, 0, 1))]);
    // The lease lapsed: the pipeline stops at once, nothing is claimed.
    let actions = decide(&view, &me(), None, &runs, Instant::now());
    assert!(matches!(
        &actions[..],
        [Action::Stop {
            graceful: false,
            ..
        }]
    ));
    // A new term: claimed again (a new epoch) before it runs.
    let actions = decide(&view, &me(), Some(2), &HashMap::new(), Instant::now());
    assert!(matches!(
        &actions[..],
        [Action::Claim { after: Some(_), .. }]
    ));
}

#[tokio::test(start_paused = true)]
async fn a_connector_held_by_a_live_member_waits_and_one_held_by_a_dead_member_is_claimed() {
    let c = connector("c", true, 1);
    let mut view = view_with(std::slice::from_ref(&c));
    view.owners.insert(c.id.clone(), owner("b", 2, 0));
    view.members.record(heartbeat("b", 2), Instant::now());
    // b holds it and, with one connector, keeps it.
    let actions = decide(&view, &me(), Some(1), &HashMap::new(), Instant::now());
    assert!(actions.is_empty(), "{actions:?}");

    tokio::time::advance(LEASE + Duration::from_millis(1)).await;
    let actions = decide(&view, &me(), Some(1), &HashMap::new(), Instant::now());
    assert!(matches!(&actions[..], [Action::Claim { after: Some(o), .. }] if o.member == "b"));
}

#[tokio::test(start_paused = true)]
async fn a_pipeline_taken_over_stops_and_a_disabled_one_stops_gracefully() {
    let c = connector("c", true, 1);
    let mut view = view_with(std::slice::from_ref(&c));
    view.owners.insert(c.id.clone(), owner("b", 2, 4));
    view.members.record(heartbeat("b", 2), Instant::now());
    let runs = HashMap::from([(c.id.clone(), run(1, 3, 1))]);
    let actions = decide(&view, &me(), Some(1), &runs, Instant::now());
    assert!(matches!(
        &actions[..],
        [Action::Stop {
            graceful: false,
            ..
        }]
    ));

    let disabled = connector("c", false, 2);
    let view = view_with(&[disabled]);
    let actions = decide(&view, &me(), Some(1), &runs, Instant::now());
    assert!(matches!(
        &actions[..],
        [Action::Stop {
            graceful: true,
            forget: false,
            ..
        }]
    ));
}

#[tokio::test(start_paused = true)]
async fn a_connector_that_should_move_is_released_and_a_new_definition_restarts() {
    let connectors: Vec<ConnectorState> = (0..4)
        .map(|i| connector(&format!("c{i}"), true, 1))
        .collect();
    let mut view = view_with(&connectors);
    let mut runs = HashMap::new();
    for (n, c) in connectors.iter().enumerate() {
        view.owners.insert(c.id.clone(), owner("a", 1, n as u64));
        view.claims.insert(c.id.clone(), (n as u64, 1));
        runs.insert(c.id.clone(), run(1, n as u64, 1));
    }
    // b joins: a keeps two and releases two.
    view.members.record(heartbeat("b", 2), Instant::now());
    let actions = decide(&view, &me(), Some(1), &runs, Instant::now());
    let released = actions
        .iter()
        .filter(|a| matches!(a, Action::Release { .. }))
        .count();
    assert_eq!(released, 2, "{actions:?}");
    assert_eq!(actions.len(), 2);

    // Alone again, a reconfigured connector restarts under the same claim.
    let mut view = view_with(&[connector("c0", true, 2)]);
    view.owners
        .insert(connectors[0].id.clone(), owner("a", 1, 0));
    view.claims.insert(connectors[0].id.clone(), (0, 1));
    let actions = decide(&view, &me(), Some(1), &runs, Instant::now());
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::Start { state, epoch: 0 } if state.revision == 2)));
}
