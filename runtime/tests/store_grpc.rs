//! The KurrentDB client backend ([`KurrentStore`]) against the embedded
//! node's gRPC protocol server (on a [`SqliteStore`]): the conformance suite,
//! one test per check plus a concurrent run, then credentials, resubscription
//! across a server restart, connection strings and tombstones.

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

/// Every field read through the protocol equals the embedded store's own
/// read, `created` to the 100 ns tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_match_the_embedded_store() {
    let node = Node::start(None).await;
    let store = node.client();
    let stream = unique("same");
    let mut written = events("Same", 3);
    written[1].metadata = br#"{"k":"v"}"#.to_vec();
    store
        .append(&stream, ExpectedRevision::NoStream, written)
        .await
        .expect("append");
    let remote = store
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("read through gRPC");
    let local = node
        .store
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("read the SQLite store");
    assert_eq!(remote, local);

    let metadata = StreamMetadata {
        max_count: Some(10),
        max_age: Some(3_600),
        truncate_before: Some(1),
        custom: serde_json::Map::from_iter([("owner".to_owned(), serde_json::json!("me"))]),
    };
    store
        .set_stream_metadata(&stream, metadata.clone())
        .await
        .expect("set metadata");
    let local = node.store.stream_metadata(&stream).await.expect("metadata");
    assert_eq!(local, Some(metadata), "metadata as the store keeps it");

    let missing = unique("empty-append");
    let r = store
        .append(&missing, ExpectedRevision::Any, Vec::new())
        .await
        .expect("empty append to a missing stream");
    let local = node
        .store
        .append(&missing, ExpectedRevision::Any, Vec::new())
        .await
        .expect("the same, on the store");
    assert_eq!(r, local, "an empty append to a missing stream");
    node.server.shutdown().await;
}

/// With credentials configured, the right ones work; wrong or missing ones
/// give a clear "access denied" error that does not contain the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked() {
    let node = Node::start(Some(Credentials {
        username: "admin".into(),
        password: "changeit".into(),
    }))
    .await;
    let addr = node.addr();
    let stream = unique("auth");

    let good = connect(&format!("esdb://admin:changeit@{addr}?tls=false"));
    good.append(&stream, ExpectedRevision::NoStream, events("Authorized", 2))
        .await
        .expect("append with the right credentials");
    let read = good
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("read with the right credentials");
    assert_eq!(read.len(), 2);
    let mut sub = good
        .subscribe_all(SubscribeFrom::Start, stream_filter(&stream))
        .await
        .expect("subscribe with the right credentials");
    assert!(matches!(
        next(&mut sub).await,
        Ok(SubscriptionMessage::Event(_))
    ));

    for (what, connection_string) in [
        (
            "wrong password",
            format!("esdb://admin:wrong-secret-pw@{addr}?tls=false"),
        ),
        ("no credentials", format!("esdb://{addr}?tls=false")),
    ] {
        let bad = connect(&connection_string);
        let result = bad
            .append(&stream, ExpectedRevision::Any, events("Denied", 1))
            .await;
        assert_access_denied(what, "append", result);
        let result = bad
            .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
            .await;
        assert_access_denied(what, "read", result);
        let mut sub = bad
            .subscribe_all(SubscribeFrom::Start, stream_filter(&stream))
            .await
            .expect("subscribing from a position does not contact the server");
        match next(&mut sub).await {
            Err(e) => assert_access_denied::<()>(what, "subscription", Err(e)),
            Ok(message) => panic!("{what}: subscription delivered {message:?}"),
        }
        assert!(
            tokio::time::timeout(Duration::from_secs(5), sub.next())
                .await
                .expect("the subscription ends after the error")
                .is_none(),
            "{what}: access denied ends the subscription"
        );
    }
    let read = good
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("read with the right credentials");
    assert_eq!(read.len(), 2, "denied appends wrote nothing");
    node.server.shutdown().await;
}

fn assert_access_denied<T: std::fmt::Debug>(
    what: &str,
    operation: &str,
    result: Result<T, StoreError>,
) {
    match result {
        Err(StoreError::Unavailable(message)) => {
            assert!(
                message.starts_with("access denied"),
                "{what}: {operation}: {message}"
            );
            assert!(
                !message.contains("wrong-secret-pw"),
                "{what}: {operation}: the message shows the password: {message}"
            );
        }
        other => panic!("{what}: {operation}: expected access denied, got {other:?}"),
    }
}

fn stream_filter(stream: &str) -> SubscriptionFilter {
    SubscriptionFilter {
        stream: Some(Matcher::Prefixes(vec![stream.to_owned()])),
        checkpoint_interval: 1,
        ..SubscriptionFilter::default()
    }
}

async fn next(sub: &mut Subscription) -> Result<SubscriptionMessage, StoreError> {
    match tokio::time::timeout(Duration::from_secs(20), sub.next()).await {
        Ok(Some(message)) => message,
        Ok(None) => panic!("the subscription ended"),
        Err(_) => panic!("no subscription message within 20s"),
    }
}

/// Collects the events of `sub` until it has `n`, failing on errors.
async fn collect_events(sub: &mut Subscription, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    while ids.len() < n {
        match next(sub).await {
            Ok(SubscriptionMessage::Event(event)) => ids.push(event.id),
            Ok(_) => {}
            Err(e) => panic!("the subscription failed after {} events: {e}", ids.len()),
        }
    }
    ids
}

/// A subscription survives the protocol server going away and coming back
/// on the same port with the same store: it resubscribes from where it was,
/// and delivers every event exactly once, in order, including those written
/// while the server was down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_survives_a_server_restart() {
    init_tracing();
    let node = Node::start(None).await;
    let addr = node.addr();
    let store = node.client();
    let stream = unique("restart");
    let mut sub = store
        .subscribe_all(SubscribeFrom::Start, stream_filter(&stream))
        .await
        .expect("subscribe");
    // The stream filtered by the server, the event type here: before the
    // restart it sees only checkpoints.
    let mut late = store
        .subscribe_all(
            SubscribeFrom::Start,
            SubscriptionFilter {
                event_type: Some(Matcher::Prefixes(vec!["AfterRestart".into()])),
                ..stream_filter(&stream)
            },
        )
        .await
        .expect("subscribe to the late events");

    let mut expected = Vec::new();
    let before = events("BeforeRestart", 5);
    expected.extend(before.iter().map(|e| e.id));
    store
        .append(&stream, ExpectedRevision::NoStream, before)
        .await
        .expect("append before the restart");
    let mut got = collect_events(&mut sub, 5).await;
    assert_eq!(got, expected, "before the restart");
    let mut checkpoints = Vec::new();
    while checkpoints.last() < Some(&got_position(&store, &stream, 4).await) {
        match next(&mut late).await {
            Ok(SubscriptionMessage::Checkpoint(p)) => checkpoints.push(p),
            Ok(SubscriptionMessage::CaughtUp) => {}
            Ok(SubscriptionMessage::Event(e)) => panic!("no late event yet: {e:?}"),
            Err(e) => panic!("the late subscription failed: {e}"),
        }
    }

    let Node {
        _dir,
        store: sqlite,
        server,
    } = node;
    server.shutdown().await;

    // Written while no server is listening.
    let offline = events("WhileDown", 4);
    expected.extend(offline.iter().map(|e| e.id));
    sqlite
        .append(&stream, ExpectedRevision::Exact(4), offline)
        .await
        .expect("append to the SQLite store directly");
    let unavailable = store
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 100)
        .await;
    assert!(
        matches!(unavailable, Err(StoreError::Unavailable(_))),
        "requests fail while the server is down: {unavailable:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let server = restart(&sqlite, addr).await;
    let after = events("AfterRestart", 3);
    expected.extend(after.iter().map(|e| e.id));
    let mut appended = false;
    for _ in 0..50 {
        match store
            .append(&stream, ExpectedRevision::Exact(8), after.clone())
            .await
        {
            Ok(_) => {
                appended = true;
                break;
            }
            Err(StoreError::Unavailable(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("append after the restart: {e}"),
        }
    }
    assert!(appended, "the client reconnects after the restart");

    got.extend(collect_events(&mut sub, 7).await);
    assert_eq!(got, expected, "every event once, in order");
    let mut late_ids = Vec::new();
    while late_ids.len() < 3 {
        match next(&mut late).await {
            Ok(SubscriptionMessage::Checkpoint(p)) => checkpoints.push(p),
            Ok(SubscriptionMessage::CaughtUp) => {}
            Ok(SubscriptionMessage::Event(e)) => late_ids.push(e.id),
            Err(e) => panic!("the late subscription failed: {e}"),
        }
    }
    assert_eq!(late_ids, expected[9..], "only the late events, once");
    assert!(
        checkpoints.windows(2).all(|w| w[0] < w[1]),
        "checkpoints only go forwards: {checkpoints:?}"
    );
    // Nothing else arrives (no duplicates after the last event).
    let extra = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            match sub.next().await {
                Some(Ok(SubscriptionMessage::Event(e))) => return Some(e),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("the subscription failed: {e}"),
                None => return None,
            }
        }
    })
    .await;
    assert!(extra.is_err(), "no event after the last one: {extra:?}");
    server.shutdown().await;
}

/// Logs to the test output when `RUST_LOG` is set.
fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// The position of `stream`'s event at `revision`.
async fn got_position(store: &KurrentStore, stream: &str, revision: u64) -> Position {
    let read = store
        .read_stream(
            stream,
            Direction::Forwards,
            StreamStart::Revision(revision),
            1,
        )
        .await
        .expect("read the event");
    read[0].position
}

/// Starts a server on `addr` again, waiting for the port to be free.
async fn restart(store: &SqliteStore, addr: SocketAddr) -> GrpcServer {
    let config = || GrpcConfig {
        listen: addr,
        credentials: None,
        users: Vec::new(),
        tls: None,
    };
    let mut last_error = None;
    for _ in 0..50 {
        match grpc::serve(Arc::new(store.clone()), config()).await {
            Ok(server) => return server,
            Err(e) => {
                last_error = Some(e);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("could not restart the server on {addr}: {last_error:?}");
}

/// Dropping a subscription ends its task (and the server's side of it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_subscription_stops_it() {
    let node = Node::start(None).await;
    let store = node.client();
    let stream = unique("dropped");
    store
        .append(&stream, ExpectedRevision::NoStream, events("Seen", 1))
        .await
        .expect("append");
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let mut sub = store
        .subscribe_all(SubscribeFrom::Start, stream_filter(&stream))
        .await
        .expect("subscribe");
    collect_events(&mut sub, 1).await;
    assert!(metrics.num_alive_tasks() > before, "the subscription runs");
    drop(sub);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while metrics.num_alive_tasks() > before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} tasks still alive, {before} before subscribing",
            metrics.num_alive_tasks()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.server.shutdown().await;
}

/// A client whose first requests find no server (so that the client's
/// connection task gives up) works once the server is there, and so does a
/// subscription made while it was not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_recovers_when_the_server_starts_late() {
    init_tracing();
    let addr = {
        let listener = std::net::TcpListener::bind(local(0)).expect("find a free port");
        listener.local_addr().expect("local address")
    };
    let store = connect(&format!("esdb://{addr}?tls=false"));
    let stream = unique("late");
    let mut sub = store
        .subscribe_all(SubscribeFrom::Start, stream_filter(&stream))
        .await
        .expect("subscribe from the start without a server");
    let early = store
        .append(&stream, ExpectedRevision::Any, events("Early", 1))
        .await;
    assert!(
        matches!(early, Err(StoreError::Unavailable(_))),
        "append without a server: {early:?}"
    );
    let head = store.head_position().await;
    assert!(
        matches!(head, Err(StoreError::Unavailable(_))),
        "head without a server: {head:?}"
    );

    let dir = tempfile::tempdir().expect("create a temporary directory");
    let sqlite = SqliteStore::open(&dir.path().join("events.db")).expect("open the store");
    let server = restart(&sqlite, addr).await;
    let written = events("Late", 2);
    let ids: Vec<Uuid> = written.iter().map(|e| e.id).collect();
    let mut result = None;
    for _ in 0..50 {
        match store
            .append(&stream, ExpectedRevision::NoStream, written.clone())
            .await
        {
            Err(StoreError::Unavailable(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            other => {
                result = Some(other);
                break;
            }
        }
    }
    match result {
        Some(Ok(r)) => assert_eq!(r.next_expected_revision, 1),
        other => panic!("append once the server is up: {other:?}"),
    }
    assert_eq!(collect_events(&mut sub, 2).await, ids, "the subscription");
    server.shutdown().await;
}

/// Malformed connection strings are invalid requests whose message does
/// not contain the password; well-formed ones (several hosts, discovery,
/// TLS options) are accepted without contacting a server.
#[tokio::test]
async fn connection_strings() {
    for bad in [
        "esdb://admin:s3cr3t-pw@localhost:2113?tls=maybe",
        "http://admin:s3cr3t-pw@localhost:2113",
        "esdb://admin:s3cr3t-pw@host1:2113,host2:notaport?tls=false",
        "esdb://admin:s3cr3t-pw@:2113",
        "esdb://admin:s3cr3t-pw@localhost:2113?nodePreference=nearest",
        "esdb://admin:s3cr3t-pw@localhost:2113?userCertFile=/only/the/cert.pem",
        "not a connection string",
    ] {
        match KurrentStore::connect(bad) {
            Err(StoreError::InvalidRequest(message)) => assert!(
                !message.contains("s3cr3t-pw"),
                "{bad}: the message shows the password: {message}"
            ),
            other => panic!("{bad}: expected InvalidRequest, got {other:?}"),
        }
    }
    for good in [
        "esdb://localhost:2113?tls=false",
        "esdb://admin:changeit@localhost:2113?tls=false",
        "esdb+discover://admin:changeit@cluster.example.com:2113",
        "kurrentdb://node1:2113,node2:2113,node3:2113?tls=true&tlsVerifyCert=false",
        "kurrentdb+discover://admin:changeit@node1:2113,node2:2113?nodePreference=leader",
    ] {
        if let Err(e) = KurrentStore::connect(good) {
            panic!("{good}: {e}");
        }
    }
}

/// A missing stream can be tombstoned, which reserves its name; a tombstone
/// checks the expected revision, and reads of a tombstoned stream fail with
/// `StreamDeleted` in both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tombstones() {
    let node = Node::start(None).await;
    let store = node.client();

    let never = unique("never-written");
    store
        .tombstone_stream(&never, ExpectedRevision::NoStream)
        .await
        .expect("tombstone a stream that never existed");
    let append = store
        .append(&never, ExpectedRevision::Any, events("Late", 1))
        .await;
    assert!(
        matches!(&append, Err(StoreError::StreamDeleted(s)) if *s == never),
        "append after the tombstone: {append:?}"
    );
    let metadata = store.set_stream_metadata(&never, Default::default()).await;
    assert!(
        matches!(metadata, Err(StoreError::StreamDeleted(_))),
        "metadata after the tombstone: {metadata:?}"
    );

    let stream = unique("tombstoned");
    store
        .append(&stream, ExpectedRevision::NoStream, events("Doomed", 3))
        .await
        .expect("append");
    let wrong = store
        .tombstone_stream(&stream, ExpectedRevision::NoStream)
        .await;
    assert!(
        matches!(
            wrong,
            Err(StoreError::WrongExpectedRevision {
                current: connectors::store::CurrentRevision::Current(2),
                ..
            })
        ),
        "tombstone with NoStream on an existing stream: {wrong:?}"
    );
    store
        .tombstone_stream(&stream, ExpectedRevision::StreamExists)
        .await
        .expect("tombstone an existing stream");
    for (direction, from) in [
        (Direction::Forwards, StreamStart::Start),
        (Direction::Backwards, StreamStart::End),
    ] {
        let read = store.read_stream(&stream, direction, from, 10).await;
        assert!(
            matches!(&read, Err(StoreError::StreamDeleted(s)) if *s == stream),
            "{direction:?} read after the tombstone: {read:?}"
        );
    }
    let local = node
        .store
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await;
    assert!(
        matches!(local, Err(StoreError::StreamDeleted(_))),
        "the tombstone reached the store: {local:?}"
    );
    node.server.shutdown().await;
}
