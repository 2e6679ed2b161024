//! Secrets: stored encrypted, never shown in clear by any read path, still
//! delivered to their destination (across restarts), kept on a redacted PUT
//! only for the same destination, and a sidecar without the key refuses to
//! start.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use connectors::store::kurrent::KurrentStore;
use connectors::store::{AllStart, Direction, EventStore, StreamStart};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{event, eventually, free_port, NodeProcess, Received, Receiver};

const BEARER: &str = "SUPERSECRET-bearer-9d1c";
const PASSWORD: &str = "SUPERSECRET-password-41ab";
const NAMED_HEADER: &str = "SUPERSECRET-api-key-77e0";
const MARKED_HEADER: &str = "SUPERSECRET-marked-header-c3f2";
const STAGE_SECRET: &str = "SUPERSECRET-stage-5b8e";
const SINK_SECRET: &str = "SUPERSECRET-hmac-0a6d";
const ALL: [&str; 6] = [
    BEARER,
    PASSWORD,
    NAMED_HEADER,
    MARKED_HEADER,
    STAGE_SECRET,
    SINK_SECRET,
];

/// Fails naming the secret when `text` holds one in clear.
fn assert_no_secret(text: &str, what: &str) {
    for secret in ALL {
        assert!(!text.contains(secret), "{what} shows `{secret}` in clear");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every byte of every file under `dir` (compiled components aside).
fn assert_no_secret_in_files(dir: &Path) -> usize {
    let mut scanned = 0;
    for entry in std::fs::read_dir(dir).expect("read data dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            if !path.ends_with("wasm-cache") {
                scanned += assert_no_secret_in_files(&path);
            }
            continue;
        }
        let bytes = std::fs::read(&path).expect("read file");
        for secret in ALL {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{} holds `{secret}` in clear",
                path.display()
            );
        }
        scanned += 1;
    }
    scanned
}

async fn wait_for(receiver: &Receiver, n: usize, what: &str) -> Vec<Received> {
    eventually(Duration::from_secs(60), what, || async {
        let got = receiver.accepted();
        (got.len() >= n).then_some(got)
    })
    .await
}

fn hmac_of(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SINK_SECRET.as_bytes()).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The connectors of the test: an HTTP sink with a bearer token, secret
/// headers and a stage secret; one with a basic password; a custom sink
/// with a secret.
async fn create_connectors(node: &NodeProcess, hook: &Receiver, signed: &Receiver) {
    node.upload_example("js-transform").await;
    node.upload_example("webhook-hmac").await;
    node.create_connector(
        "hook",
        json!({
            "sink": { "type": "http", "url": format!("{}/hook", hook.url),
                      "auth": { "type": "bearer", "token": BEARER },
                      "headers": { "x-api-key": NAMED_HEADER, "x-tenant": { "secret": MARKED_HEADER }, "x-source": "orders" } },
            "filter": { "streams": { "prefixes": ["orders-"] } },
            "transforms": [{ "module": "js-transform", "secrets": { "by": STAGE_SECRET } }],
            "checkpoint": { "everyEvents": 1, "everyMs": 100 }
        }),
    )
    .await;
    node.create_connector(
        "basic",
        json!({
            "sink": { "type": "http", "url": format!("{}/basic", hook.url),
                      "auth": { "type": "basic", "username": "ingest", "password": PASSWORD } },
            "filter": { "streams": { "prefixes": ["orders-"] } }
        }),
    )
    .await;
    let host = signed.url.trim_start_matches("http://").to_owned();
    node.create_connector(
        "signed",
        json!({
            "sink": { "type": "wasm", "module": "webhook-hmac",
                      "config": { "url": format!("{}/signed", signed.url) },
                      "secrets": { "secret": SINK_SECRET },
                      "allowHosts": [host] },
            "filter": { "streams": { "prefixes": ["orders-"] } }
        }),
    )
    .await;
}

/// Checks what the destinations received: each got its secret.
fn assert_delivered_with_secrets(hook: &[Received], signed: &[Received]) {
    let bearer = hook
        .iter()
        .find(|r| r.path == "/hook")
        .expect("a /hook request");
    assert_eq!(bearer.header("authorization"), format!("Bearer {BEARER}"));
    assert_eq!(bearer.header("x-api-key"), NAMED_HEADER);
    assert_eq!(bearer.header("x-tenant"), MARKED_HEADER);
    assert_eq!(bearer.header("x-source"), "orders");
    let body: Value = serde_json::from_slice(&bearer.body).expect("json");
    assert_eq!(
        body["transformedBy"], STAGE_SECRET,
        "the stage's init saw its secret"
    );
    let basic = hook
        .iter()
        .find(|r| r.path == "/basic")
        .expect("a /basic request");
    let expected = base64_basic("ingest", PASSWORD);
    assert_eq!(basic.header("authorization"), expected);
    let first = signed.first().expect("a signed request");
    assert_eq!(
        first.header("x-signature"),
        hmac_of(&first.body),
        "the sink's init saw its secret"
    );
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_leave_in_clear_by_any_read_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("node");
    let grpc_port = free_port();
    let grpc_args = vec!["--grpc-listen".to_owned(), format!("127.0.0.1:{grpc_port}")];
    let node = NodeProcess::start_with_args(&data, &grpc_args).await;
    let (hook, signed, system) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );

    // A connector that delivers the runtime's own events, definitions included.
    node.create_connector(
        "tap",
        json!({
            "sink": { "type": "http", "url": format!("{}/system", system.url) },
            "filter": { "eventTypes": { "prefixes": ["$ConnectorCreated"] }, "includeSystemEvents": true }
        }),
    )
    .await;
    create_connectors(&node, &hook, &signed).await;
    node.append("orders-1", &[event("OrderPlaced", json!({ "n": 1 }))])
        .await;
    let delivered = wait_for(&hook, 2, "deliveries to the HTTP sinks").await;
    let signed_requests = wait_for(&signed, 1, "a delivery by the custom sink").await;
    assert_delivered_with_secrets(&delivered, &signed_requests);

    // The API answers with `******`.
    for id in ["hook", "basic", "signed"] {
        let (status, body) = node.get(&format!("/connectors/{id}")).await;
        assert_eq!(status, 200, "{body}");
        assert_no_secret(&body.to_string(), &format!("GET /connectors/{id}"));
        assert!(body.to_string().contains("******"), "{body}");
    }
    let (_, list) = node.get("/connectors").await;
    assert_no_secret(&list.to_string(), "GET /connectors");

    // The stored definitions hold sealed values, whatever reads them.
    let stored = node.read_stream("$connectors/hook").await;
    let stored_text = Value::Array(stored).to_string();
    assert_no_secret(&stored_text, "GET /streams/%24connectors%2Fhook");
    assert!(stored_text.contains("sealed:v1:"), "{stored_text}");
    let (status, all) = node.get("/streams/%24all?from=start&count=4096").await;
    assert_eq!(status, 200, "{all}");
    assert_no_secret(&all.to_string(), "GET /streams/$all");
    let (status, preview) = node
        .post(
            "/preview",
            &json!({ "filter": { "eventTypes": { "prefixes": ["$Connector"] }, "includeSystemEvents": true }, "last": 100 }),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert!(
        preview["summary"]["delivered"].as_u64().unwrap_or(0) >= 3,
        "{preview}"
    );
    assert_no_secret(&preview.to_string(), "POST /preview");
    let tapped = wait_for(&system, 4, "the definitions at the system tap").await;
    let tapped_text: String = tapped
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(tapped_text.contains("sealed:v1:"), "{tapped_text}");
    assert_no_secret(&tapped_text, "a connector with includeSystemEvents");

    let client = KurrentStore::connect(&format!("kurrentdb://127.0.0.1:{grpc_port}?tls=false"))
        .expect("client");
    let mut grpc_text = String::new();
    for id in ["hook", "basic", "signed"] {
        let events = client
            .read_stream(
                &format!("$connectors/{id}"),
                Direction::Forwards,
                StreamStart::Start,
                100,
            )
            .await
            .expect("gRPC stream read");
        for e in &events {
            grpc_text.push_str(&String::from_utf8_lossy(&e.data));
        }
    }
    let all_events = client
        .read_all(Direction::Forwards, AllStart::Start, 4096)
        .await
        .expect("gRPC $all read");
    for e in &all_events {
        grpc_text.push_str(&String::from_utf8_lossy(&e.data));
        grpc_text.push_str(&String::from_utf8_lossy(&e.metadata));
    }
    assert!(
        grpc_text.contains("sealed:v1:"),
        "gRPC reads see the definitions"
    );
    assert_no_secret(&grpc_text, "gRPC reads");

    // A restarted node opens them with the same key file, and delivers.
    node.terminate();
    let files = assert_no_secret_in_files(&data);
    assert!(
        files >= 3,
        "the store, its log and the key file were scanned"
    );
    let key_mode = {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(data.join("secrets.key"))
            .expect("generated key file")
            .permissions()
            .mode()
    };
    assert_eq!(key_mode & 0o777, 0o600);
    hook.clear();
    signed.clear();
    let node = NodeProcess::start_with_args(&data, &grpc_args).await;
    node.append("orders-1", &[event("OrderPlaced", json!({ "n": 2 }))])
        .await;
    let delivered = wait_for(&hook, 2, "deliveries after the restart").await;
    let signed_requests = wait_for(&signed, 1, "a custom sink delivery after the restart").await;
    assert_delivered_with_secrets(&delivered, &signed_requests);
    let log = node.log();
    assert_no_secret(&log, "the node's log");
    assert!(
        log.contains("transformedBy=******"),
        "the stage logs its setting, redacted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacted_secret_is_kept_only_for_the_same_destination() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    node.create_connector(
        "hook",
        json!({
            "sink": { "type": "http", "url": format!("{}/a", receiver.url), "auth": { "type": "bearer", "token": BEARER } },
            "filter": { "streams": { "prefixes": ["kept-"] } }
        }),
    )
    .await;
    let (_, current) = node.get("/connectors/hook").await;
    let mut definition = current["definition"].clone();
    assert_eq!(definition["sink"]["auth"]["token"], "******");

    // Same scheme, host and port, another path: the stored token is kept.
    definition["sink"]["url"] = json!(format!("{}/b", receiver.url));
    let (status, body) = node
        .call(Method::PUT, "/connectors/hook", Some(&definition))
        .await;
    assert_eq!(status, 200, "{body}");
    node.append("kept-1", &[event("E", json!({ "n": 1 }))])
        .await;
    let got = wait_for(&receiver, 1, "a delivery with the kept token").await;
    assert_eq!(got[0].path, "/b");
    assert_eq!(got[0].header("authorization"), format!("Bearer {BEARER}"));

    // Another host: refused, naming the field and both destinations.
    let port = receiver.url.rsplit(':').next().expect("port");
    definition["sink"]["url"] = json!(format!("http://localhost:{port}/b"));
    let (status, body) = node
        .call(Method::PUT, "/connectors/hook", Some(&definition))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["message"],
        format!(
            "`sink.auth.token` was sent as `******` but the destination changed from \
             `http://127.0.0.1:{port}` to `http://localhost:{port}`; send the secret again"
        )
    );
    // A value that looks sealed is refused too: only the node seals.
    definition["sink"]["auth"]["token"] = json!("sealed:v1:00000000:AAAA");
    let (status, body) = node
        .call(Method::PUT, "/connectors/hook", Some(&definition))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("`sink.auth.token`"),
        "{body}"
    );
}

/// A destination that refuses everything, echoing the credential it got.
async fn echoing_refuser() -> String {
    let app = axum::Router::new().fallback(|headers: axum::http::HeaderMap| async move {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (
            axum::http::StatusCode::BAD_REQUEST,
            format!("refused `{auth}`"),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_urls_and_echoed_credentials_are_masked_in_status_and_dead_letters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let refuser = echoing_refuser().await;
    node.create_connector(
        "signed-url",
        json!({
            "sink": { "type": "http", "url": format!("{refuser}/hook?sig=URLSECRET-q1&code=URLSECRET-q2"),
                      "auth": { "type": "bearer", "token": BEARER } },
            "filter": { "streams": { "prefixes": ["masked-"] } }
        }),
    )
    .await;
    node.append("masked-1", &[event("E", json!({ "n": 1 }))])
        .await;
    let letters = eventually(Duration::from_secs(30), "a dead letter", || async {
        let letters = node
            .read_stream("$connectors/signed-url/dead-letters")
            .await;
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    let letter = &letters[0]["data"];
    let reason = letter["reason"].as_str().expect("reason").to_owned();
    assert!(reason.contains("sig=******&code=******"), "{reason}");
    assert_eq!(letter["response"], "refused `Bearer ******`", "{letter}");
    let status = node.status("signed-url").await;
    let last_error = status["lastError"]["message"]
        .as_str()
        .expect("lastError")
        .to_owned();
    assert!(last_error.contains("sig=******"), "{last_error}");
    for text in [letter.to_string(), last_error, node.log()] {
        assert!(!text.contains("URLSECRET"), "a URL secret in clear: {text}");
        assert_no_secret(&text, "dead letters, status and log");
    }
}

/// Starts `connectors serve` as a sidecar and waits for it to exit (it
/// must refuse to start); returns what it logged.
fn sidecar_refusing_to_start(data: &Path, store: &str, extra: &[String]) -> String {
    std::fs::create_dir_all(data).expect("data dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_connectors"))
        .args(["serve", "--store", store, "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--data")
        .arg(data)
        .args(extra)
        .env_remove("CONNECTORS_SECRETS_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the sidecar");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut log = String::new();
            use std::io::Read as _;
            child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut log)
                .expect("read log");
            assert!(!status.success(), "the sidecar started: {log}");
            return log;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the sidecar did not refuse to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_without_the_key_refuses_to_start_over_sealed_definitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grpc_port = free_port();
    let store_data = dir.path().join("store");
    let store_node = NodeProcess::start_with_args(
        &store_data,
        &[
            "--grpc-listen".into(),
            format!("127.0.0.1:{grpc_port}"),
            "--no-connectors".into(),
        ],
    )
    .await;
    let store = format!("kurrentdb://127.0.0.1:{grpc_port}?tls=false");
    let receiver = Receiver::start().await;
    let secret_sink = json!({ "sink": { "type": "http", "url": receiver.url, "auth": { "type": "bearer", "token": BEARER } } });

    // Without a key a sidecar starts while nothing is sealed, and refuses
    // new secrets with the reason.
    let keyless = NodeProcess::start_with_args(
        &dir.path().join("keyless"),
        &["--store".into(), store.clone()],
    )
    .await;
    let (status, body) = keyless.post("/connectors/hook", &secret_sink).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "no-secrets-key");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("--secrets-key-file"),
        "{body}"
    );
    keyless.terminate();

    store_node.create_connector("hook", secret_sink).await;
    let log = sidecar_refusing_to_start(&dir.path().join("keyless"), &store, &[]);
    assert!(
        log.contains("connector `hook`") && log.contains("--secrets-key-file"),
        "{log}"
    );

    let (_, other_key) = connectors::secrets::SecretKey::generate();
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, format!("{other_key}\n")).expect("write key");
    let log = sidecar_refusing_to_start(
        &dir.path().join("wrong"),
        &store,
        &["--secrets-key-file".into(), wrong.display().to_string()],
    );
    assert!(
        log.contains("connector `hook`") && log.contains("none of this node's keys"),
        "{log}"
    );

    // With the store node's key (after a new one: rotation) it starts.
    let rotated = dir.path().join("rotated.key");
    let current = std::fs::read_to_string(store_data.join("secrets.key")).expect("key");
    std::fs::write(&rotated, format!("{other_key}\n{current}")).expect("write keys");
    let sidecar = NodeProcess::start_with_args(
        &dir.path().join("keyed"),
        &[
            "--store".into(),
            store,
            "--secrets-key-file".into(),
            rotated.display().to_string(),
        ],
    )
    .await;
    let (status, body) = sidecar.get("/connectors/hook").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["definition"]["sink"]["auth"]["token"], "******");
    store_node
        .append("after-1", &[event("E", json!({ "n": 1 }))])
        .await;
    let got = wait_for(&receiver, 1, "a delivery through a sidecar").await;
    assert_eq!(got[0].header("authorization"), format!("Bearer {BEARER}"));
}
