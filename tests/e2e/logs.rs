//! Logs: with `--log-format json` every line a node writes is one JSON
//! object; a connector's lines carry the connector, a request's its span;
//! and at `debug`/`trace`, with secrets in definitions, a failing sink, an
//! API token and a sidecar's password in its connection string, no secret
//! appears in any line.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};

use crate::support::{event, eventually, free_port, NodeProcess, Receiver};

const API_TOKEN: &str = "SUPERSECRET-api-token-5e2d9a";
const BEARER: &str = "SUPERSECRET-bearer-71fc";
const PASSWORD: &str = "SUPERSECRET-password-0b3e";
const NAMED_HEADER: &str = "SUPERSECRET-api-key-d94a";
const MARKED_HEADER: &str = "SUPERSECRET-marked-header-2c61";
const STAGE_SECRET: &str = "SUPERSECRET-stage-8f07";
const STORE_PASSWORD: &str = "SUPERSECRET-store-pw-6a1b";
/// The sidecar's secrets key (the base64 of 32 bytes).
const SIDECAR_KEY: &str = "BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSY=";

/// The most verbose filter that stays readable: everything at `debug`, the
/// runtime at `trace`, the compiler of WebAssembly quieter.
const VERBOSE: &str = "debug,connectors=trace,cranelift_codegen=info,wasmtime_cranelift=info";

/// Every line of `log`, parsed; fails on a line that is not a JSON object.
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
            assert!(value.is_object(), "a log line is not an object: {line}");
            assert!(
                !line.contains('\u{1b}'),
                "a JSON line has colour codes: {line}"
            );
            value
        })
        .collect()
}

/// Fails naming the secret when `log` holds one of `secrets`.
fn assert_no_secret(log: &str, secrets: &[&str], what: &str) {
    for secret in secrets {
        assert!(
            !log.contains(secret),
            "{what} shows `{secret}`:\n{}",
            log.lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// The value of `field` in the spans of a JSON log line.
fn span_field<'a>(line: &'a Value, span: &str, field: &str) -> Option<&'a Value> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == span)
        .and_then(|s| s.get(field))
}

/// The keys the node generated in its data directory.
fn generated_keys(data: &Path) -> Vec<String> {
    std::fs::read_to_string(data.join("secrets.key"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("header value");
    headers.insert(AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_name_the_connector_and_never_show_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("node");
    let port = free_port();
    let args = [
        "--log-format",
        "json",
        "--log-filter",
        VERBOSE,
        "--api-token",
        API_TOKEN,
    ]
    .map(str::to_owned);
    let node = NodeProcess::launch(
        &data,
        &format!("127.0.0.1:{port}"),
        &args,
        format!("http://127.0.0.1:{port}"),
        client_with_token(API_TOKEN),
    )
    .await;
    let failing = Receiver::start().await;
    failing.fail_all(Some(500));

    node.upload_example("js-transform").await;
    node.create_connector(
        "hook",
        json!({
            "sink": { "type": "http", "url": format!("{}/hook", failing.url),
                      "auth": { "type": "bearer", "token": BEARER },
                      "headers": { "x-api-key": NAMED_HEADER, "x-tenant": { "secret": MARKED_HEADER } } },
            "filter": { "streams": { "prefixes": ["orders-"] } },
            "transforms": [{ "module": "js-transform", "secrets": { "by": STAGE_SECRET } }]
        }),
    )
    .await;
    node.create_connector(
        "basic",
        json!({
            "sink": { "type": "http", "url": format!("{}/basic", failing.url),
                      "auth": { "type": "basic", "username": "ingest", "password": PASSWORD } },
            "filter": { "streams": { "prefixes": ["orders-"] } }
        }),
    )
    .await;
    node.append("orders-1", &[event("OrderPlaced", json!({ "n": 1 }))])
        .await;
    // A request with a wrong token, refused.
    let refused = reqwest::Client::new()
        .get(node.url("/connectors"))
        .bearer_auth("SUPERSECRET-wrong-token-93c7")
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 401);

    // Both sinks fail, and the pipelines say so in their spans.
    let lines = eventually(
        Duration::from_secs(180),
        "failed deliveries logged",
        || async {
            let lines = json_lines(&node.log());
            let failed: Vec<String> = lines
                .iter()
                .filter(|l| l["fields"]["message"] == "delivery failed, retrying")
                .filter_map(|l| span_field(l, "connector", "connector"))
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect();
            (failed.iter().any(|c| c == "hook") && failed.iter().any(|c| c == "basic"))
                .then_some(lines)
        },
    )
    .await;

    // Every line a pipeline writes names its connector.
    let pipeline_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("connectors::pipeline"))
        })
        .collect();
    assert!(
        !pipeline_lines.is_empty(),
        "no pipeline line at trace level"
    );
    for line in &pipeline_lines {
        assert!(
            span_field(line, "connector", "connector").is_some(),
            "a pipeline line without its connector: {line}"
        );
    }

    // Requests have their span and a line when they complete.
    let created = lines
        .iter()
        .find(|l| {
            l["fields"]["message"] == "request finished"
                && l["fields"]["status"] == 201
                && span_field(l, "request", "path") == Some(&json!("/connectors/{id}"))
        })
        .expect("the creation of a connector is logged with its route");
    assert_eq!(
        span_field(created, "request", "method"),
        Some(&json!("POST"))
    );
    assert!(
        span_field(created, "request", "request_id").is_some_and(|id| id.as_str().is_some()),
        "{created}"
    );
    assert!(created["fields"]["latency_ms"].is_number(), "{created}");
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "request finished" && l["fields"]["status"] == 401),
        "a refused request is logged too"
    );

    let mut secrets = vec![
        API_TOKEN,
        BEARER,
        PASSWORD,
        NAMED_HEADER,
        MARKED_HEADER,
        STAGE_SECRET,
        "SUPERSECRET-wrong-token-93c7",
    ];
    let keys = generated_keys(&data);
    assert!(!keys.is_empty(), "the node generated its secrets key");
    secrets.extend(keys.iter().map(String::as_str));
    let log = node.log();
    assert_no_secret(&log, &secrets, "the node's log");
    node.terminate();
    assert_no_secret(
        &std::fs::read_to_string(data.join("node.log")).unwrap_or_default(),
        &secrets,
        "the node's log after it stopped",
    );
}

/// A sidecar whose store cannot be reached logs its attempts without the
/// password of its connection string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_never_logs_its_store_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("sidecar.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut sidecar = Command::new(env!("CARGO_BIN_EXE_connectors"))
        .args(["serve", "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--store")
        .arg(format!(
            "esdb://admin:{STORE_PASSWORD}@127.0.0.1:{}?tls=false",
            free_port()
        ))
        .args(["--log-format", "json", "--log-filter", VERBOSE])
        .env("CONNECTORS_SECRETS_KEY", SIDECAR_KEY)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the sidecar");
    let text = eventually(
        Duration::from_secs(60),
        "the sidecar to log its wait",
        || {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            async move {
                text.contains("the event store cannot be reached")
                    .then_some(text)
            }
        },
    )
    .await;
    let _ = sidecar.kill();
    let _ = sidecar.wait();
    json_lines(&text);
    assert_no_secret(&text, &[STORE_PASSWORD, SIDECAR_KEY], "the sidecar's log");
}

/// Text logs written to a file (not a terminal) carry no colour codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_in_a_file_have_no_colour() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start_with_args(
        &dir.path().join("node"),
        &["--log-format".to_owned(), "text".to_owned()],
    )
    .await;
    let (status, _) = node.get("/connectors").await;
    assert_eq!(status, 200);
    let log = node.log();
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a file: {log}");
}
