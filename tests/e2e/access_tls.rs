//! TLS on both listeners (`--tls-cert`, `--tls-key`): the API over HTTPS,
//! and the official Node.js client over `tls=true` with a CA file and
//! credentials, running its whole check suite; clear start-up errors for
//! certificates and keys that cannot be used.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

use crate::access_api::bearer_headers;
use crate::official_client::{node_client, run_client, CHECKS};
use crate::support::passed_checks;
use crate::support::{free_port, NodeProcess};

const TOKEN: &str = "tls-admin-0123456789abcdef";

/// PEM files of a test CA and of a server certificate it signed for
/// `localhost` and `127.0.0.1`.
pub(crate) struct TestPki {
    pub(crate) ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    ca_pem: String,
}

pub(crate) fn test_pki(dir: &Path) -> TestPki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "connectors test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");

    let server_key = KeyPair::generate().expect("server key");
    let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("server params");
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_cert = server
        .signed_by(&server_key, &ca_cert, &ca_key)
        .expect("server certificate");

    let pki = TestPki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server-key.pem"),
        ca_pem: ca_cert.pem(),
    };
    std::fs::write(&pki.ca, &pki.ca_pem).expect("write CA");
    std::fs::write(&pki.cert, server_cert.pem()).expect("write certificate");
    std::fs::write(&pki.key, server_key.serialize_pem()).expect("write key");
    pki
}

/// A node serving the API over HTTPS with an admin token and the gRPC
/// protocol over TLS with admin credentials; its client trusts the test CA
/// and sends the token. Returns the node and its gRPC port.
pub(crate) async fn tls_node(dir: &Path, pki: &TestPki) -> (NodeProcess, u16) {
    let port = free_port();
    let grpc_port = free_port();
    let node = NodeProcess::launch(
        &dir.join("node"),
        &format!("127.0.0.1:{port}"),
        &[
            "--tls-cert".into(),
            pki.cert.display().to_string(),
            "--tls-key".into(),
            pki.key.display().to_string(),
            "--api-token".into(),
            TOKEN.into(),
            "--grpc-listen".into(),
            format!("127.0.0.1:{grpc_port}"),
            "--grpc-credentials".into(),
            "admin:changeit".into(),
        ],
        format!("https://localhost:{port}"),
        trusting_client(pki),
    )
    .await;
    (node, grpc_port)
}

fn api_port(node: &NodeProcess) -> u16 {
    node.base
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("the API's port")
}

/// A client that trusts the test CA and sends the admin token.
fn trusting_client(pki: &TestPki) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("CA"))
        .default_headers(bearer_headers(TOKEN))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_the_api_over_https_and_the_official_client_with_credentials() {
    node_client();
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = test_pki(dir.path());
    let (node, grpc_port) = tls_node(dir.path(), &pki).await;
    let port = api_port(&node);

    let (status, body) = node.get("/connectors").await;
    assert_eq!(status, 200, "{body}");
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await;
    assert!(
        plain.map(|r| !r.status().is_success()).unwrap_or(true),
        "cleartext HTTP is not served on a TLS listener"
    );
    let untrusting = reqwest::Client::new().get(node.url("/health")).send().await;
    assert!(
        untrusting.is_err(),
        "a client that does not trust the CA fails"
    );

    let connection = format!(
        "kurrentdb://admin:changeit@127.0.0.1:{grpc_port}?tls=true&tlsCAFile={}",
        pki.ca.display()
    );
    let output = run_client(vec!["check".into(), connection, "tls".into()]).await;
    passed_checks(&output, CHECKS, &node);
    let stored = node.read_stream("client-orders-tls").await;
    assert_eq!(stored.len(), 10, "the client's orders are in the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stalls_its_tls_handshake_delays_nobody_and_is_cut_off() {
    use tokio::io::AsyncReadExt;

    let dir = tempfile::tempdir().expect("tempdir");
    let pki = test_pki(dir.path());
    let (node, grpc_port) = tls_node(dir.path(), &pki).await;
    let port = api_port(&node);

    // Peers that connect and never start their handshake, on both listeners.
    let mut stalled = Vec::new();
    for listener in [port, grpc_port] {
        for _ in 0..4 {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", listener))
                .await
                .expect("connect");
            stalled.push(stream);
        }
    }
    // Everyone else is served meanwhile.
    let (status, body) = node.get("/connectors").await;
    assert_eq!(status, 200, "{body}");
    let grpc = trusting_client(&pki)
        .post(format!(
            "https://localhost:{grpc_port}/event_store.client.gossip.Gossip/Read"
        ))
        .header("content-type", "application/grpc")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .expect("a TLS handshake with the gRPC listener completes");
    assert_eq!(grpc.version(), reqwest::Version::HTTP_2);
    // The stalled peers are disconnected after the handshake time limit.
    for mut stream in stalled {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(std::time::Duration::from_secs(60), stream.read(&mut buf))
            .await
            .expect("a stalled handshake is cut off");
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "the connection is closed, not answered: {read:?}"
        );
    }
}

/// Runs `serve` with `args` and returns its standard error, failing if it
/// started.
fn refused_start(data: &Path, args: &[String]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_connectors"))
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the binary");
    assert!(!output.status.success(), "the node started with {args:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn unusable_certificates_and_keys_stop_the_start_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = test_pki(dir.path());
    let other = KeyPair::generate().expect("another key");
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, other.serialize_pem()).expect("write key");
    let tls = |cert: &Path, key: &Path| {
        vec![
            "--tls-cert".to_owned(),
            cert.display().to_string(),
            "--tls-key".to_owned(),
            key.display().to_string(),
        ]
    };
    let data = dir.path().join("data");

    let stderr = refused_start(&data, &tls(&pki.cert, &other_key));
    assert!(
        stderr.contains("does not belong to the certificate"),
        "{stderr}"
    );
    let missing = dir.path().join("missing.pem");
    let stderr = refused_start(&data, &tls(&missing, &pki.key));
    assert!(
        stderr.contains("cannot read the TLS certificate") && stderr.contains("missing.pem"),
        "{stderr}"
    );
    let stderr = refused_start(&data, &tls(&pki.key, &pki.key));
    assert!(stderr.contains("holds no PEM certificate"), "{stderr}");
    let stderr = refused_start(&data, &tls(&pki.cert, &pki.cert));
    assert!(stderr.contains("no usable PEM private key"), "{stderr}");
    // TLS is not authentication: a network address still needs credentials.
    let mut args = tls(&pki.cert, &pki.key);
    args.extend([
        "--grpc-listen".to_owned(),
        format!("0.0.0.0:{}", free_port()),
    ]);
    let stderr = refused_start(&data, &args);
    assert!(stderr.contains("--grpc-credentials"), "{stderr}");
}
