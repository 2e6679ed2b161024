//! Reading roles from gossip answers: parsing, matching, mapping, errors.

use super::*;
use crate::store::kurrent::protocol::gossip::EndPoint;

fn member(address: &str, port: u32, state: VNodeState) -> MemberInfo {
    MemberInfo {
        instance_id: None,
        time_stamp: 0,
        state: state as i32,
        is_alive: true,
        http_end_point: Some(EndPoint {
            address: address.to_owned(),
            port,
        }),
    }
}

fn node(host: &str, port: u32) -> Endpoint {
    Endpoint {
        host: host.to_owned(),
        port,
    }
}

#[test]
fn states_map_to_roles() {
    use NodeRole::{Follower, Leader, ReadOnlyReplica};
    use VNodeState as S;
    let expected = [
        (S::Leader, Leader),
        (S::Follower, Follower),
        (S::ReadOnlyReplica, ReadOnlyReplica),
        (S::PreReadOnlyReplica, ReadOnlyReplica),
        (S::ReadOnlyLeaderless, ReadOnlyReplica),
        (S::Clone, Follower),
        (S::CatchingUp, Follower),
        (S::PreReplica, Follower),
        (S::PreLeader, Follower),
        (S::ResigningLeader, Follower),
        (S::Initializing, Follower),
        (S::DiscoverLeader, Follower),
        (S::Unknown, Follower),
        (S::Manager, Follower),
        (S::ShuttingDown, Follower),
        (S::Shutdown, Follower),
    ];
    for (state, role) in expected {
        assert_eq!(NodeRole::of_state(state as i32), role, "{state:?}");
    }
    assert_eq!(
        NodeRole::of_state(99),
        NodeRole::Follower,
        "an unknown state"
    );
    assert_eq!(NodeRole::ReadOnlyReplica.to_string(), "readonly-replica");
}

#[tokio::test]
async fn a_single_member_is_the_attached_node_whatever_it_advertises() {
    let members = [member("10.1.2.3", 2113, VNodeState::Follower)];
    let found = attached_member(&members, &node("db.example.invalid", 1113)).await;
    assert_eq!(found.map(|m| m.state), Some(VNodeState::Follower as i32));
}

#[tokio::test]
async fn the_attached_node_is_the_member_at_the_first_host() {
    let members = [
        member("node1.example.invalid", 2113, VNodeState::Leader),
        member("NODE2.example.invalid", 2113, VNodeState::Follower),
        member("node3.example.invalid", 2113, VNodeState::ReadOnlyReplica),
    ];
    let role = |host: &str, port: u32| {
        let members = &members;
        let node = node(host, port);
        async move {
            attached_member(members, &node)
                .await
                .map(|m| NodeRole::of_state(m.state))
        }
    };
    assert_eq!(
        role("node1.example.invalid", 2113).await,
        Some(NodeRole::Leader)
    );
    assert_eq!(
        role("node2.EXAMPLE.invalid", 2113).await,
        Some(NodeRole::Follower)
    );
    assert_eq!(
        role("node3.example.invalid", 2113).await,
        Some(NodeRole::ReadOnlyReplica)
    );
}

#[tokio::test]
async fn no_member_at_the_first_host_is_no_attached_node() {
    let members = [
        member("10.0.0.1", 2113, VNodeState::Leader),
        member("10.0.0.2", 2113, VNodeState::Follower),
    ];
    let found = attached_member(&members, &node("10.0.0.1", 2114)).await;
    assert!(found.is_none(), "another port");
    let found = attached_member(&members, &node("10.0.0.3", 2113)).await;
    assert!(found.is_none(), "another address");
}

#[tokio::test]
async fn addresses_match_when_names_differ() {
    let members = [
        member("127.0.0.1", 2113, VNodeState::Leader),
        member("[::1]", 2114, VNodeState::Follower),
    ];
    let found = attached_member(&members, &node("::1", 2114)).await;
    assert_eq!(found.map(|m| m.state), Some(VNodeState::Follower as i32));
    let found = attached_member(&members, &node("localhost", 2113)).await;
    assert_eq!(found.map(|m| m.state), Some(VNodeState::Leader as i32));
}

#[test]
fn the_first_host_of_the_string_is_the_attached_node() {
    let first = |connection: &str| {
        let settings = connection::parse_settings(connection).expect("parse");
        display(&first_host(&settings).expect("a host"))
    };
    assert_eq!(first("esdb://127.0.0.1:2113?tls=false"), "127.0.0.1:2113");
    assert_eq!(
        first("kurrentdb://admin:changeit@n2:2114,n1:2113,n3:2115?tls=true&tlsVerifyCert=false"),
        "n2:2114"
    );
    assert_eq!(
        first("esdb+discover://cluster.example.com:2113"),
        "cluster.example.com:2113"
    );
    assert_eq!(first("esdb://[::1]:2113?tls=false"), "[::1]:2113");
}

#[test]
fn credentials_become_basic_authorization() {
    let header = authorization("esdb://admin:changeit@h:2113?tls=false").expect("header");
    assert_eq!(
        header.as_ref().and_then(|v| v.to_str().ok()),
        Some("Basic YWRtaW46Y2hhbmdlaXQ=")
    );
    assert!(authorization("esdb://h:2113").expect("no header").is_none());
}

#[tokio::test]
async fn a_bad_string_is_refused_without_its_password() {
    let error = attached_node_role("esdb://admin:hunter2-secret@localhost:2113?tls=maybe")
        .await
        .expect_err("refused");
    let GossipError::InvalidConnection(message) = &error else {
        panic!("expected InvalidConnection, got {error:?}");
    };
    assert!(!message.contains("hunter2-secret"), "{message}");
    assert!(message.contains("tls"), "{message}");
}

#[test]
fn the_members_listed_in_an_error_show_address_and_state() {
    let members = [
        member("node1", 2113, VNodeState::Leader),
        member("::1", 2114, VNodeState::Clone),
    ];
    assert_eq!(listed(&members), "node1:2113 (Leader), [::1]:2114 (Clone)");
}
