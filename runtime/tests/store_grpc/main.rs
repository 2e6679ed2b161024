//! The KurrentDB client backend ([`KurrentStore`]) against the embedded
//! node's gRPC protocol server (on a [`SqliteStore`]): the conformance suite,
//! one test per check plus a concurrent run (here), reads and tombstones
//! ([`reads`]), credentials and connection strings ([`access`]),
//! subscriptions across server restarts ([`subscriptions`]), and what
//! subscriptions deliver, message by message ([`subscription_reads`]).

mod access;
mod gossip;
mod reads;
mod subscription_reads;
mod subscriptions;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use connectors::grpc::{self, Credentials, GrpcConfig, GrpcServer};
use connectors::store::embedded::SqliteStore;
use connectors::store::kurrent::KurrentStore;
use connectors::store::{
    conformance, Direction, EventStore, ExpectedRevision, Matcher, NewEvent, Position, StoreError,
    StreamMetadata, StreamStart, SubscribeFrom, Subscription, SubscriptionFilter,
    SubscriptionMessage,
};
use tempfile::TempDir;
use uuid::Uuid;

/// A protocol server on a fresh SQLite store.
struct Node {
    _dir: TempDir,
    store: SqliteStore,
    server: GrpcServer,
}

impl Node {
    async fn start(credentials: Option<Credentials>) -> Node {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("events.db");
        let store = match SqliteStore::open(&path) {
            Ok(store) => store,
            Err(e) => panic!("open {}: {e}", path.display()),
        };
        let server = serve(&store, local(0), credentials).await;
        Node {
            _dir: dir,
            store,
            server,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// A client store for this node, without credentials.
    fn client(&self) -> KurrentStore {
        connect(&format!("esdb://{}?tls=false", self.addr()))
    }
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn serve(
    store: &SqliteStore,
    listen: SocketAddr,
    credentials: Option<Credentials>,
) -> GrpcServer {
    let config = GrpcConfig {
        listen,
        credentials,
        users: Vec::new(),
        tls: None,
    };
    match grpc::serve(Arc::new(store.clone()), config).await {
        Ok(server) => server,
        Err(e) => panic!("start the gRPC server on {listen}: {e:#}"),
    }
}

fn connect(connection_string: &str) -> KurrentStore {
    match KurrentStore::connect(connection_string) {
        Ok(store) => store,
        Err(e) => panic!("connect to {connection_string}: {e}"),
    }
}

/// A protocol server on a fresh SQLite store and a client of it, per check.
struct ThroughGrpc {
    node: Node,
    client: KurrentStore,
}

#[async_trait::async_trait]
impl conformance::Fixture for ThroughGrpc {
    async fn start() -> Self {
        let node = Node::start(None).await;
        let client = node.client();
        ThroughGrpc { node, client }
    }

    fn store(&self) -> &dyn EventStore {
        &self.client
    }

    async fn stop(self) {
        self.node.server.shutdown().await;
    }
}

connectors::conformance_tests!(ThroughGrpc);

/// All checks through one client, concurrently, as against a shared server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_checks_share_one_server() {
    let node = Node::start(None).await;
    conformance::run_all_concurrently(&node.client(), 3).await;
    node.server.shutdown().await;
}

fn events(event_type: &str, n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| NewEvent::json(event_type, &serde_json::json!({ "i": i })))
        .collect()
}

fn unique(label: &str) -> String {
    format!("grpc-{label}-{}", Uuid::new_v4().simple())
}

/// Everything in `stream`, with a checkpoint after every event considered.
fn stream_filter(stream: &str) -> SubscriptionFilter {
    SubscriptionFilter {
        stream: Some(Matcher::Prefixes(vec![stream.to_owned()])),
        checkpoint_interval: 1,
        ..SubscriptionFilter::default()
    }
}

/// The next subscription message, within 20 s.
async fn next(sub: &mut Subscription) -> Result<SubscriptionMessage, StoreError> {
    match tokio::time::timeout(Duration::from_secs(20), sub.next()).await {
        Ok(Some(message)) => message,
        Ok(None) => panic!("the subscription ended"),
        Err(_) => panic!("no subscription message within 20s"),
    }
}
