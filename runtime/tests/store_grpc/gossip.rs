//! The role of the node a sidecar is attached to, read from the embedded
//! node's gossip over a real gRPC connection: cleartext, with credentials,
//! with several hosts, over TLS trusting a CA file or no certificate at
//! all; and clear errors, in bounded time, when the node cannot tell.

use std::time::{Duration, Instant};

use connectors::grpc::{Credentials, GrpcConfig};
use connectors::store::kurrent::{attached_node_role, GossipError, NodeRole, GOSSIP_DEADLINE};
use connectors::tls::TlsIdentity;
use rcgen::{CertificateParams, KeyPair};

use super::{local, Node};

/// The role found for `connection`, or the test fails with the error.
async fn role(connection: &str) -> NodeRole {
    match attached_node_role(connection).await {
        Ok(role) => role,
        Err(e) => panic!("{connection}: {e}"),
    }
}

#[tokio::test]
async fn an_embedded_node_is_a_leader() {
    let node = Node::start(None).await;
    let addr = node.addr();
    let port = addr.port();
    assert_eq!(
        role(&format!("esdb://{addr}?tls=false")).await,
        NodeRole::Leader
    );
    assert_eq!(
        role(&format!("kurrentdb://localhost:{port}?tls=false")).await,
        NodeRole::Leader,
        "the node advertises 127.0.0.1; the string names it localhost"
    );
    assert_eq!(
        role(&format!("esdb://{addr},127.0.0.1:1,127.0.0.1:2?tls=false")).await,
        NodeRole::Leader,
        "only the first host is asked"
    );
    assert_eq!(
        role(&format!("esdb+discover://{addr}?tls=false")).await,
        NodeRole::Leader
    );
    node.server.shutdown().await;
}

#[tokio::test]
async fn credentials_are_accepted() {
    let credentials = Credentials::parse("admin:changeit").expect("credentials");
    let node = Node::start(Some(credentials)).await;
    let addr = node.addr();
    assert_eq!(
        role(&format!("esdb://admin:changeit@{addr}?tls=false")).await,
        NodeRole::Leader
    );
    node.server.shutdown().await;
}

#[tokio::test]
async fn over_tls_with_a_ca_file_or_without_verification() {
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
    let store_dir = tempfile::tempdir().expect("a temporary directory");
    let store = connectors::store::embedded::SqliteStore::open(&store_dir.path().join("e.db"))
        .expect("open the store");
    let config = GrpcConfig {
        listen: local(0),
        credentials: None,
        users: Vec::new(),
        tls: Some(identity),
    };
    let server = connectors::grpc::serve(std::sync::Arc::new(store), config)
        .await
        .expect("serve over TLS");
    let port = server.local_addr().port();
    let ca = cert_path.display();

    assert_eq!(
        role(&format!("esdb://localhost:{port}?tls=true&tlsCaFile={ca}")).await,
        NodeRole::Leader
    );
    assert_eq!(
        role(&format!("esdb://127.0.0.1:{port}?tlsVerifyCert=false")).await,
        NodeRole::Leader,
        "TLS is the default; no certificate check asked"
    );
    match attached_node_role(&format!("esdb://localhost:{port}")).await {
        Err(GossipError::Unreachable { node, reason }) => {
            assert_eq!(node, format!("localhost:{port}"));
            assert!(reason.contains("certificate"), "{reason}");
        }
        other => panic!("an unknown certificate must be refused, got {other:?}"),
    }
    match attached_node_role(&format!("esdb://127.0.0.1:{port}?tls=false")).await {
        Err(e @ GossipError::Unreachable { .. }) => {
            assert!(e.to_string().contains("`--role`"), "{e}");
        }
        other => panic!("cleartext towards a TLS node must fail, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_node_that_is_down_is_reported_quickly() {
    let listener = std::net::TcpListener::bind(local(0)).expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let error = attached_node_role(&format!("esdb://{addr}?tls=false"))
        .await
        .expect_err("nothing listens");
    let GossipError::Unreachable { node, .. } = &error else {
        panic!("expected Unreachable, got {error:?}");
    };
    assert_eq!(node, &addr.to_string());
    let message = error.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.contains("`--role`"), "{message}");
}

#[tokio::test]
async fn a_node_that_never_answers_times_out() {
    // Accepts connections and reads nothing.
    let listener = tokio::net::TcpListener::bind(local(0)).await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let accepting = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let error = attached_node_role(&format!("esdb://{addr}?tls=false"))
        .await
        .expect_err("no answer");
    let waited = started.elapsed();
    assert!(
        matches!(error, GossipError::TimedOut { .. }),
        "expected TimedOut, got {error:?}"
    );
    assert!(
        waited < GOSSIP_DEADLINE + Duration::from_secs(5),
        "gave up after {waited:?}"
    );
    accepting.abort();
}
