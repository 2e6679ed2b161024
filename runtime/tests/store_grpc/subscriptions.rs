//! Subscriptions through the protocol: resubscribing across a server
//! restart, stopping when dropped, and a client that starts before its server.

use super::*;

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
pub(super) async fn restart(store: &SqliteStore, addr: SocketAddr) -> GrpcServer {
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
/// The store's connection, made by its first subscription, stays for the
/// next ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_subscription_stops_it() {
    let node = Node::start(None).await;
    let store = node.client();
    let stream = unique("dropped");
    store
        .append(&stream, ExpectedRevision::NoStream, events("Seen", 1))
        .await
        .expect("append");
    let mut first = store
        .subscribe_all(SubscribeFrom::Start, stream_filter(&stream))
        .await
        .expect("subscribe");
    collect_events(&mut first, 1).await;
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
    drop(first);
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
