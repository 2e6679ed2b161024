//! Access to the gRPC protocol: with an admin user and ordinary users,
//! every streams call needs credentials, and only the admin may use `$` streams and
//! `$all`; the runtime's own sidecar mode works with the admin's
//! credentials.

use connectors::store::kurrent::KurrentStore;
use connectors::store::{
    AllStart, Direction, EventStore, ExpectedRevision, NewEvent, StoreError, StreamStart,
    SubscribeFrom, SubscriptionFilter,
};
use serde_json::json;

use crate::support::{free_port, NodeProcess};

fn connect(connection: &str) -> KurrentStore {
    KurrentStore::connect(connection).unwrap_or_else(|e| panic!("connect {connection}: {e}"))
}

fn one(event_type: &str) -> Vec<NewEvent> {
    vec![NewEvent::json(event_type, &json!({ "n": 1 }))]
}

#[track_caller]
fn assert_denied<T: std::fmt::Debug>(what: &str, result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Unavailable(message)) if message.starts_with("access denied") => {}
        other => panic!("{what}: expected access denied, got {other:?}"),
    }
}

async fn store_node(dir: &std::path::Path) -> (NodeProcess, u16) {
    let grpc_port = free_port();
    let node = NodeProcess::start_with_args(
        dir,
        &[
            "--grpc-listen".into(),
            format!("127.0.0.1:{grpc_port}"),
            "--no-connectors".into(),
            "--grpc-credentials".into(),
            "admin:changeit".into(),
            "--grpc-user".into(),
            "ops:ops-password-1".into(),
        ],
    )
    .await;
    (node, grpc_port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_stream_calls_need_credentials_and_only_the_admin_uses_system_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, port) = store_node(dir.path()).await;
    node.create_connector(
        "hook",
        json!({ "sink": { "type": "console" }, "enable": false }),
    )
    .await;

    let anonymous = connect(&format!("esdb://127.0.0.1:{port}?tls=false"));
    assert_denied(
        "anonymous append",
        anonymous
            .append("orders-1", ExpectedRevision::Any, one("X"))
            .await,
    );
    assert_denied(
        "anonymous read",
        anonymous
            .read_stream("orders-1", Direction::Forwards, StreamStart::Start, 10)
            .await,
    );

    let user = connect(&format!(
        "esdb://ops:ops-password-1@127.0.0.1:{port}?tls=false"
    ));
    user.append("orders-1", ExpectedRevision::NoStream, one("OrderPlaced"))
        .await
        .expect("a user writes an ordinary stream");
    let read = user
        .read_stream("orders-1", Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("a user reads an ordinary stream");
    assert_eq!(read.len(), 1);
    assert_denied(
        "user append to $connectors",
        user.append("$connectors/hook", ExpectedRevision::Any, one("Sneaky"))
            .await,
    );
    assert_denied(
        "user read of $connectors",
        user.read_stream(
            "$connectors/hook",
            Direction::Forwards,
            StreamStart::Start,
            10,
        )
        .await,
    );
    assert_denied(
        "user delete of $members",
        user.delete_stream("$members", ExpectedRevision::Any).await,
    );
    assert_denied(
        "user read of $all",
        user.read_all(Direction::Forwards, AllStart::Start, 10)
            .await,
    );
    let mut subscription = user
        .subscribe_all(SubscribeFrom::Start, SubscriptionFilter::default())
        .await
        .expect("subscribing from a position does not contact the server");
    match tokio::time::timeout(std::time::Duration::from_secs(20), subscription.next()).await {
        Ok(Some(Err(e))) => assert_denied::<()>("user subscription to $all", Err(e)),
        other => panic!("user subscription to $all: expected access denied, got {other:?}"),
    }

    let admin = connect(&format!("esdb://admin:changeit@127.0.0.1:{port}?tls=false"));
    let definition = admin
        .read_stream(
            "$connectors/hook",
            Direction::Forwards,
            StreamStart::Start,
            10,
        )
        .await
        .expect("the admin reads $connectors");
    assert!(!definition.is_empty());
    let all = admin
        .read_all(Direction::Forwards, AllStart::Start, 1000)
        .await
        .expect("the admin reads $all");
    assert!(all.iter().any(|e| e.stream == "orders-1"));
    // The refused calls changed nothing.
    assert_eq!(
        definition.len(),
        node.read_stream("$connectors/hook").await.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_works_against_a_node_that_requires_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, port) = store_node(&dir.path().join("store")).await;
    let sidecar = NodeProcess::start_with_args(
        &dir.path().join("sidecar"),
        &[
            "--store".into(),
            format!("esdb://admin:changeit@127.0.0.1:{port}?tls=false"),
        ],
    )
    .await;
    sidecar
        .create_connector("via-sidecar", json!({ "sink": { "type": "console" } }))
        .await;
    let (status, body) = store.get("/connectors/via-sidecar").await;
    assert_eq!(status, 200, "the definition is in the store node: {body}");
    let (status, body) = sidecar.get("/connectors").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("via-sidecar"), "{body}");
}
