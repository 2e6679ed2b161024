//! Credentials checked by the server, and connection strings parsed without
//! leaking the password.

use super::*;

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
