//! What a `$all` subscription of the client backend delivers, field by
//! field and message by message: events equal to the store's own, nothing
//! lost or repeated across a restart in the middle of a catch-up,
//! checkpoints while a filtered catch-up skips events, an access denied
//! reported once, and the same events over TLS with or without certificate
//! checks.

use super::*;

/// The next `n` events of `sub`, failing on errors; other messages are
/// skipped.
async fn next_events(sub: &mut Subscription, n: usize) -> Vec<connectors::store::RecordedEvent> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match next(sub).await {
            Ok(SubscriptionMessage::Event(event)) => got.push(event),
            Ok(_) => {}
            Err(e) => panic!("the subscription failed after {} events: {e}", got.len()),
        }
    }
    got
}

/// Every field of a subscribed event equals the store's own read of it:
/// id, stream, revision, position, type, content type, `created` to the
/// 100 ns tick, data and metadata (binary and JSON, empty and not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_events_equal_the_stores_own() {
    let node = Node::start(None).await;
    let store = node.client();
    let stream = unique("fields");
    let mut written = events("Json", 2);
    written[1].metadata = br#"{"k":"v"}"#.to_vec().into();
    written.push(NewEvent {
        content_type: connectors::store::ContentType::Binary,
        data: vec![0, 159, 146, 150].into(),
        metadata: vec![255, 0].into(),
        ..NewEvent::json("Bytes", &0)
    });
    node.store
        .append(&stream, ExpectedRevision::NoStream, written)
        .await
        .expect("append");
    let mut sub = store
        .subscribe_all(SubscribeFrom::Start, stream_filter(&stream))
        .await
        .expect("subscribe");
    let got = next_events(&mut sub, 3).await;
    let local = node
        .store
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("read the SQLite store");
    assert_eq!(got, local);
    node.server.shutdown().await;
}

/// The server going away in the middle of a long catch-up: the
/// subscription resubscribes after the last event it delivered, and every
/// event arrives once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_catch_up_loses_and_repeats_nothing() {
    const EVENTS: usize = 6_000;
    let node = Node::start(None).await;
    let addr = node.addr();
    let store = node.client();
    let stream = unique("catch-up");
    let mut expected = Vec::with_capacity(EVENTS);
    for _ in 0..EVENTS / 500 {
        let batch: Vec<NewEvent> = (0..500)
            .map(|i| {
                NewEvent::json(
                    "Order",
                    &serde_json::json!({ "i": i, "pad": "x".repeat(200) }),
                )
            })
            .collect();
        expected.extend(batch.iter().map(|e| e.id));
        node.store
            .append(&stream, ExpectedRevision::Any, batch)
            .await
            .expect("append");
    }
    let mut sub = store
        .subscribe_all(SubscribeFrom::Start, stream_filter(&stream))
        .await
        .expect("subscribe");
    let mut got: Vec<Uuid> = next_events(&mut sub, 1_000)
        .await
        .iter()
        .map(|e| e.id)
        .collect();

    let Node {
        _dir,
        store: sqlite,
        server,
    } = node;
    server.shutdown().await;
    let server = super::subscriptions::restart(&sqlite, addr).await;

    got.extend(
        next_events(&mut sub, EVENTS - got.len())
            .await
            .iter()
            .map(|e| e.id),
    );
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "every event once, in order");
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

/// A catch-up through many events the server filters out yields
/// checkpoints that only go forwards, the matching events in order, and
/// `CaughtUp` once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_catch_up_yields_checkpoints() {
    let node = Node::start(None).await;
    let store = node.client();
    let stream = unique("filtered");
    let mut wanted = Vec::new();
    for round in 0..3 {
        node.store
            .append(&stream, ExpectedRevision::Any, events("Skipped", 100))
            .await
            .expect("append skipped events");
        let one = events(&format!("Wanted{round}"), 1);
        wanted.push(one[0].id);
        node.store
            .append(&stream, ExpectedRevision::Any, one)
            .await
            .expect("append a wanted event");
    }
    let head = node
        .store
        .head_position()
        .await
        .expect("head")
        .expect("events");
    let filter = SubscriptionFilter {
        event_type: Some(Matcher::Prefixes(vec!["Wanted".into()])),
        checkpoint_interval: 10,
        ..SubscriptionFilter::default()
    };
    let mut sub = store
        .subscribe_all(SubscribeFrom::Start, filter)
        .await
        .expect("subscribe");
    let mut got = Vec::new();
    let mut checkpoints = Vec::new();
    let mut caught_up = 0;
    // Until caught up and every checkpoint of the catch-up is in.
    while caught_up == 0 || got.len() < wanted.len() {
        match next(&mut sub).await {
            Ok(SubscriptionMessage::Event(event)) => got.push(event.id),
            Ok(SubscriptionMessage::Checkpoint(position)) => checkpoints.push(position),
            Ok(SubscriptionMessage::CaughtUp) => caught_up += 1,
            Err(e) => panic!("the subscription failed: {e}"),
        }
    }
    assert_eq!(got, wanted, "only the wanted events, in order");
    assert!(
        checkpoints.len() >= 10,
        "a checkpoint at least every 10 events considered: {checkpoints:?}"
    );
    assert!(
        checkpoints.windows(2).all(|w| w[0] < w[1]),
        "checkpoints only go forwards: {checkpoints:?}"
    );
    assert!(checkpoints.iter().all(|c| *c <= head), "{checkpoints:?}");
    store
        .append(&stream, ExpectedRevision::Any, events("Wanted-live", 1))
        .await
        .expect("append live");
    loop {
        match next(&mut sub).await {
            Ok(SubscriptionMessage::Event(event)) => {
                assert_eq!(event.event_type, "Wanted-live");
                break;
            }
            Ok(SubscriptionMessage::CaughtUp) => panic!("CaughtUp is reported once"),
            Ok(SubscriptionMessage::Checkpoint(_)) => {}
            Err(e) => panic!("the subscription failed: {e}"),
        }
    }
    node.server.shutdown().await;
}

/// A user the server does not let read `$all` gets one "access denied"
/// error, after which the subscription ends (no retries, no repeats).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_is_reported_once() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let sqlite = SqliteStore::open(&dir.path().join("events.db")).expect("open the store");
    let config = GrpcConfig {
        listen: local(0),
        credentials: Some(Credentials {
            username: "admin".into(),
            password: "changeit".into(),
        }),
        users: vec![Credentials {
            username: "reader".into(),
            password: "reader-pw".into(),
        }],
        tls: None,
    };
    let server = grpc::serve(Arc::new(sqlite.clone()), config)
        .await
        .expect("serve");
    let addr = server.local_addr();
    let user = connect(&format!("esdb://reader:reader-pw@{addr}?tls=false"));
    let stream = unique("denied");
    user.append(&stream, ExpectedRevision::NoStream, events("Allowed", 1))
        .await
        .expect("an ordinary user writes ordinary streams");
    let mut sub = user
        .subscribe_all(SubscribeFrom::Start, stream_filter(&stream))
        .await
        .expect("subscribing from the start does not contact the server");
    match next(&mut sub).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.starts_with("access denied"), "{message}");
            assert!(!message.contains("reader-pw"), "{message}");
        }
        other => panic!("expected access denied, got {other:?}"),
    }
    let after = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("the subscription ends after the error");
    assert!(after.is_none(), "one error, then the end: {after:?}");
    server.shutdown().await;
}

/// Over TLS, trusting the node's CA file (read by this backend's own
/// channel) or checking no certificate at all (read by the official
/// client's subscription, which our channel does not replace there): the
/// same events either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_work_over_tls_with_a_ca_file_or_without_verification() {
    use connectors::tls::TlsIdentity;
    use rcgen::{CertificateParams, KeyPair};

    let dir = tempfile::tempdir().expect("a temporary directory");
    let key = KeyPair::generate().expect("key");
    let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("certificate parameters");
    let cert = params.self_signed(&key).expect("certificate");
    let cert_path = dir.path().join("node.pem");
    let key_path = dir.path().join("node-key.pem");
    std::fs::write(&cert_path, cert.pem()).expect("write the certificate");
    std::fs::write(&key_path, key.serialize_pem()).expect("write the key");
    let identity = TlsIdentity::load(&cert_path, &key_path).expect("load the identity");
    let sqlite = SqliteStore::open(&dir.path().join("events.db")).expect("open the store");
    let config = GrpcConfig {
        listen: local(0),
        credentials: None,
        users: Vec::new(),
        tls: Some(identity),
    };
    let server = grpc::serve(Arc::new(sqlite.clone()), config)
        .await
        .expect("serve over TLS");
    let port = server.local_addr().port();
    let stream = unique("tls");
    sqlite
        .append(&stream, ExpectedRevision::NoStream, events("Secret", 3))
        .await
        .expect("append");
    let local_read = sqlite
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("read the SQLite store");
    for connection in [
        format!(
            "esdb://localhost:{port}?tls=true&tlsCaFile={}",
            cert_path.display()
        ),
        format!("esdb://127.0.0.1:{port}?tlsVerifyCert=false"),
    ] {
        let store = connect(&connection);
        let mut sub = store
            .subscribe_all(SubscribeFrom::Start, stream_filter(&stream))
            .await
            .expect("subscribe");
        assert_eq!(next_events(&mut sub, 3).await, local_read, "{connection}");
    }
    server.shutdown().await;
}
