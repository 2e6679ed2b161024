//! `Streams.BatchAppend` through a third official client: the Rust client's
//! (`kurrentdb`) batch-append session against the embedded node's protocol
//! server. Appends on one session get their revisions and positions, land
//! in the store in order, and a wrong expectation is refused with nothing
//! written.

use std::net::SocketAddr;
use std::sync::Arc;

use connectors::grpc::{self, GrpcConfig, GrpcServer};
use connectors::store::embedded::SqliteStore;
use connectors::store::{Direction, EventStore, StreamStart};
use kurrentdb::{BatchAppendOptions, Client, EventData, StreamState};
use serde_json::json;
use tempfile::TempDir;
use uuid::Uuid;

struct Node {
    _dir: TempDir,
    store: SqliteStore,
    server: GrpcServer,
}

async fn node() -> Node {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(&dir.path().join("events.db")).expect("open the store");
    let config = GrpcConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        credentials: None,
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

fn events(kind: &str, count: usize) -> Vec<EventData> {
    (0..count)
        .map(|n| {
            EventData::json(kind, &json!({ "n": n }))
                .expect("serialize")
                .id(Uuid::new_v4())
        })
        .collect()
}

async fn stored(store: &SqliteStore, stream: &str) -> Vec<String> {
    match store
        .read_stream(stream, Direction::Forwards, StreamStart::Start, 100)
        .await
    {
        Ok(events) => events.into_iter().map(|e| e.event_type).collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_clients_batch_appends_are_written_and_answered() {
    let node = node().await;
    let settings = format!("esdb://{}?tls=false", node.server.local_addr())
        .parse()
        .expect("settings");
    let client = Client::new(settings).expect("client");
    let batch = client
        .batch_append(&BatchAppendOptions::default())
        .await
        .expect("open a batch-append session");

    let orders = format!("batch-orders-{}", Uuid::new_v4().simple());
    let first = batch
        .append_to_stream(&orders, StreamState::NoStream, events("Placed", 3))
        .await
        .expect("the first append");
    assert_eq!(first.stream_name(), orders);
    assert_eq!(first.current_revision(), Some(2));
    let second = batch
        .append_to_stream(&orders, StreamState::StreamRevision(2), events("Paid", 2))
        .await
        .expect("the second append, at revision 2");
    assert_eq!(second.current_revision(), Some(4));
    let (p1, p2) = (
        first.current_position().expect("a position"),
        second.current_position().expect("a position"),
    );
    assert!(p2.commit > p1.commit, "positions grow: {p1:?} then {p2:?}");
    assert_eq!(
        stored(&node.store, &orders).await,
        ["Placed", "Placed", "Placed", "Paid", "Paid"],
        "both appends, in order"
    );

    let refused = batch
        .append_to_stream(&orders, StreamState::NoStream, events("Again", 1))
        .await;
    // The client passes the per-append error on as KurrentDB words it.
    match refused {
        Err(kurrentdb::Error::Grpc { code, message }) => {
            assert_eq!(code, tonic::Code::AlreadyExists);
            assert_eq!(message, "WrongExpectedVersion");
        }
        other => panic!(
            "expecting no stream where there is one: {:?}",
            other.map(|r| r.current_revision())
        ),
    }
    assert_eq!(
        stored(&node.store, &orders).await.len(),
        5,
        "the refused append wrote nothing"
    );
}
