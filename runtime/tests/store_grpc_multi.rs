//! Multi-stream appends of the KurrentDB backend ([`KurrentStore`]) beyond
//! the conformance suite: the connection string's credentials reach the
//! server, a cluster's leader is found by gossip, and a server without
//! `AppendSession` (older than KurrentDB 25.1) gives a typed error.

use std::net::SocketAddr;
use std::sync::Arc;

use connectors::grpc::{self, Credentials, GrpcConfig, GrpcServer};
use connectors::store::embedded::SqliteStore;
use connectors::store::kurrent::KurrentStore;
use connectors::store::{
    Direction, EventStore, ExpectedRevision, NewEvent, StoreError, StreamAppend, StreamStart,
};
use tempfile::TempDir;
use uuid::Uuid;

struct Node {
    _dir: TempDir,
    store: SqliteStore,
    server: GrpcServer,
}

async fn node(credentials: Option<Credentials>) -> Node {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(&dir.path().join("events.db")).expect("open the store");
    let config = GrpcConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        credentials,
        users: Vec::new(),
        tls: None,
    };
    let server = grpc::serve(Arc::new(store.clone()), config)
        .await
        .expect("serve");
    Node {
        _dir: dir,
        store,
        server,
    }
}

fn connect(connection_string: &str) -> KurrentStore {
    match KurrentStore::connect(connection_string) {
        Ok(store) => store,
        Err(e) => panic!("connect to {connection_string}: {e}"),
    }
}

fn unique(label: &str) -> String {
    format!("multi-{label}-{}", Uuid::new_v4().simple())
}

fn two_streams(a: &str, b: &str) -> Vec<StreamAppend> {
    let event = |t: &str| vec![NewEvent::json(t, &serde_json::json!({ "ok": true }))];
    vec![
        StreamAppend::new(a, ExpectedRevision::NoStream, event("A")),
        StreamAppend::new(b, ExpectedRevision::NoStream, event("B")),
    ]
}

async fn stream_len(store: &SqliteStore, stream: &str) -> usize {
    store
        .read_stream(stream, Direction::Forwards, StreamStart::Start, 10)
        .await
        .map_or(0, |events| events.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_strings_credentials_are_sent() {
    let node = node(Some(Credentials {
        username: "admin".into(),
        password: "changeit".into(),
    }))
    .await;
    let addr = node.server.local_addr();
    let (a, b) = (unique("a"), unique("b"));

    let without = connect(&format!("esdb://{addr}?tls=false"));
    match without.append_streams(two_streams(&a, &b)).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.starts_with("access denied"), "{message}")
        }
        other => panic!("without credentials: expected access denied, got {other:?}"),
    }
    let wrong = connect(&format!("esdb://admin:wrong-secret@{addr}?tls=false"));
    match wrong.append_streams(two_streams(&a, &b)).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.starts_with("access denied"), "{message}");
            assert!(!message.contains("wrong-secret"), "{message}");
        }
        other => panic!("wrong credentials: expected access denied, got {other:?}"),
    }
    assert_eq!(stream_len(&node.store, &a).await, 0, "nothing written");

    let good = connect(&format!("esdb://admin:changeit@{addr}?tls=false"));
    let result = good
        .append_streams(two_streams(&a, &b))
        .await
        .expect("append with the right credentials");
    assert_eq!(result.streams.len(), 2);
    assert_eq!(stream_len(&node.store, &a).await, 1);
    assert_eq!(stream_len(&node.store, &b).await, 1);
    node.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clusters_leader_is_found_by_gossip() {
    let node = node(None).await;
    // Nothing listens on the first host: the store asks the next one.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = unused.local_addr().expect("addr");
    drop(unused);
    let store = connect(&format!(
        "esdb://{dead},{}?tls=false",
        node.server.local_addr()
    ));
    let (a, b) = (unique("a"), unique("b"));
    store
        .append_streams(two_streams(&a, &b))
        .await
        .expect("append through the leader gossip names");
    assert_eq!(stream_len(&node.store, &b).await, 1);
    node.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_append_sessions_is_unsupported() {
    // A gRPC server that serves nothing answers every call UNIMPLEMENTED, as
    // a KurrentDB older than 25.1 answers AppendSession.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_routes(tonic::service::Routes::default())
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let store = connect(&format!("esdb://{addr}?tls=false"));
    match store
        .append_streams(two_streams(&unique("a"), &unique("b")))
        .await
    {
        Err(StoreError::Unsupported(message)) => {
            assert!(message.contains("KurrentDB 25.1 or later"), "{message}")
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}
