//! What the security measures cost: the management API answering one
//! request after the other over loopback without a token, with a bearer
//! token, and with a token over TLS; and sealing and opening one secret.
//! Run with `cargo bench --bench access`; results are printed as a Markdown
//! table (see docs/benchmarks.md).
//!
//! Set `BENCH_REQUESTS` to change the number of requests per API run.

#![allow(clippy::print_stdout)]

mod support;

use std::path::Path;
use std::time::Instant;

use connectors::api::access::{ApiTokens, Role};
use connectors::connector::{Command, ConnectorDefinition, ConnectorId};
use connectors::node::{Node, StoreLocation};
use connectors::secrets::{Keyring, SecretKey};
use rcgen::{CertificateParams, KeyPair};
use serde_json::json;

const TOKEN: &str = "bench-admin-token-0123456789abcdef";

/// How the API is reached.
#[derive(Clone, Copy)]
enum Guard {
    Open,
    Token,
    /// HTTP/2, as clients negotiate it over TLS.
    TokenOverTls,
    /// HTTP/1.1 over TLS, to tell TLS's cost from HTTP/2's.
    TokenOverTlsHttp1,
}

impl Guard {
    fn describe(self) -> &'static str {
        match self {
            Guard::Open => "GET /connectors/{id}, no token, HTTP",
            Guard::Token => "GET /connectors/{id}, bearer token, HTTP",
            Guard::TokenOverTls => "GET /connectors/{id}, bearer token, HTTPS (TLS 1.3, HTTP/2)",
            Guard::TokenOverTlsHttp1 => {
                "GET /connectors/{id}, bearer token, HTTPS (TLS 1.3, HTTP/1.1)"
            }
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A self-signed certificate for `localhost`, written as PEM files; returns
/// the certificate's PEM (the client trusts it as its own root).
fn certificate(dir: &Path) -> String {
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write cert");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write key");
    cert.pem()
}

/// Starts a node guarded as `guard`, with one connector, and times
/// `requests` sequential reads of it over one kept-alive connection.
async fn api_row(dir: &Path, guard: Guard, requests: u64) -> (f64, u64) {
    std::fs::create_dir_all(dir).expect("create the node's directory");
    let port = free_port();
    let mut config = support::node::config(dir.to_owned(), StoreLocation::Embedded, "bench");
    config.listen = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut client = reqwest::Client::builder();
    let mut scheme = "http";
    if !matches!(guard, Guard::Open) {
        let mut tokens = ApiTokens::default();
        tokens.add(TOKEN, Role::Admin).expect("token");
        config.access.api_tokens = tokens;
    }
    if matches!(guard, Guard::TokenOverTls | Guard::TokenOverTlsHttp1) {
        let pem = certificate(dir);
        config.access.tls = Some((dir.join("cert.pem"), dir.join("key.pem")));
        let root = reqwest::Certificate::from_pem(pem.as_bytes()).expect("root");
        client = client.add_root_certificate(root).https_only(true);
        scheme = "https";
    }
    if matches!(guard, Guard::TokenOverTlsHttp1) {
        client = client.http1_only();
    }
    let node = Node::start(config).await.expect("start node");
    let definition: ConnectorDefinition = serde_json::from_value(json!({
        "sink": { "type": "http", "url": "http://127.0.0.1:9/hook",
                  "auth": { "type": "bearer", "token": "destination-secret" } }
    }))
    .expect("definition");
    let id = ConnectorId::parse("guarded").expect("id");
    node.execute(
        &id,
        Command::Create {
            definition,
            enable: false,
            name: None,
        },
    )
    .await
    .expect("create");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(node.serve(async {
        let _ = stopped.await;
    }));
    let client = client.build().expect("client");
    let url = format!("{scheme}://localhost:{port}/connectors/guarded");
    let get = || {
        let request = client.get(&url);
        match guard {
            Guard::Open => request,
            _ => request.bearer_auth(TOKEN),
        }
    };
    // The first request opens the connection (and the TLS session).
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(response) = get().send().await {
            assert!(response.status().is_success(), "{}", response.status());
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ready, "the node did not answer");
    let start = Instant::now();
    for _ in 0..requests {
        let response = get().send().await.expect("request");
        assert!(response.status().is_success());
        let _ = response.bytes().await.expect("body");
    }
    let seconds = start.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = server.await;
    (seconds, requests)
}

/// Seals and opens a bearer-token-sized secret `rounds` times.
fn seal_row(rounds: u64) -> (f64, f64) {
    let (key, _) = SecretKey::generate();
    let keyring = Keyring::new(vec![key]);
    let secret = "eyJhbGciOiJIUzI1NiJ9.bench-token-of-some-length";
    let context = "guarded/sink.auth.token";
    let start = Instant::now();
    let mut sealed = Vec::with_capacity(rounds as usize);
    for _ in 0..rounds {
        sealed.push(keyring.seal(secret, context).expect("seal"));
    }
    let seal = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for value in &sealed {
        assert_eq!(keyring.open(value, context).expect("open"), secret);
    }
    (seal, start.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let requests: u64 = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let dir = tempfile::tempdir().expect("tempdir");
    println!("| what | operations | time | rate |");
    println!("|---|---|---|---|");
    for (i, guard) in [
        Guard::Open,
        Guard::Token,
        Guard::TokenOverTls,
        Guard::TokenOverTlsHttp1,
    ]
    .into_iter()
    .enumerate()
    {
        let (seconds, n) = api_row(&dir.path().join(format!("node-{i}")), guard, requests).await;
        println!(
            "| {} | {n} | {seconds:.2} s | {:.0} requests/s |",
            guard.describe(),
            n as f64 / seconds
        );
    }
    let rounds = 100_000;
    let (seal, open) = seal_row(rounds);
    println!(
        "| seal one secret (XChaCha20-Poly1305) | {rounds} | {seal:.2} s | {:.1} µs each |",
        seal * 1e6 / rounds as f64
    );
    println!(
        "| open one secret | {rounds} | {open:.2} s | {:.1} µs each |",
        open * 1e6 / rounds as f64
    );
}
