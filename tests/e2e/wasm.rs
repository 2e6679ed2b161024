//! WebAssembly stages and sinks through the real binary, with the components
//! built from `guest-examples/` (run `guest-examples/build.sh` first).

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{event, eventually, NodeProcess, Receiver};

fn bodies(receiver: &Receiver) -> Vec<Value> {
    receiver
        .accepted()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON body"))
        .collect()
}

async fn wait_for(receiver: &Receiver, count: usize) -> Vec<Value> {
    eventually(
        Duration::from_secs(60),
        &format!("{count} deliveries"),
        || async { (receiver.count() >= count).then(|| bodies(receiver)) },
    )
    .await
}

fn http_sink(receiver: &Receiver) -> Value {
    json!({ "type": "http", "url": receiver.url })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_filter_redact_and_fan_out_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    for name in ["filter-by-type", "redact", "fan-out"] {
        let module = node.upload_example(name).await;
        assert_eq!(module["worlds"], json!(["transform"]), "{module}");
    }
    let order = |n: u64| json!({ "order": n, "card": "4111", "lines": [{ "sku": "A", "card": "x" }, { "sku": "B" }] });
    node.append(
        "orders-1",
        &[
            event("OrderPlaced", order(1)),
            event("OrderCancelled", order(2)),
            event("OrderPlaced", order(3)),
        ],
    )
    .await;
    node.create_connector(
        "chain",
        json!({
            "sink": http_sink(&receiver),
            "transforms": [
                { "module": "filter-by-type", "config": { "types": ["OrderPlaced"] } },
                { "module": "redact", "config": { "remove": ["card", "lines.card"] } },
                { "module": "fan-out", "config": { "field": "lines", "eventType": "OrderLine" } }
            ]
        }),
    )
    .await;
    let got = wait_for(&receiver, 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.count(),
        4,
        "two lines of each placed order: {got:?}"
    );
    assert_eq!(
        got,
        vec![
            json!({ "sku": "A" }),
            json!({ "sku": "B" }),
            json!({ "sku": "A" }),
            json!({ "sku": "B" })
        ]
    );
    let accepted = receiver.accepted();
    assert_eq!(
        accepted[0].header("esdb-record-schema-subject"),
        "OrderLine"
    );
    assert_eq!(accepted[1].header("esdb-record-headers-index"), "1");
    assert_ne!(
        accepted[0].header("esdb-record-id"),
        accepted[1].header("esdb-record-id"),
        "fan-out records get their own ids"
    );
    assert_eq!(
        accepted[0].header("esdb-record-log-position"),
        accepted[1].header("esdb-record-log-position")
    );
    let status = node.status("chain").await;
    assert_eq!(status["filteredOut"], 1, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_javascript_and_c_components() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    for name in ["python-transform", "js-transform", "c-filter"] {
        node.upload_example(name).await;
    }
    let receiver = Receiver::start().await;
    node.append("people-1", &[event("Registered", json!({ "name": "ada" }))])
        .await;
    node.append("others-1", &[event("Registered", json!({ "name": "bob" }))])
        .await;
    node.create_connector(
        "polyglot",
        json!({
            "sink": http_sink(&receiver),
            "transforms": [
                { "module": "c-filter", "config": { "prefix": "people-" } },
                { "module": "python-transform", "config": { "field": "name" } },
                { "module": "js-transform", "config": { "by": "javascript" } }
            ]
        }),
    )
    .await;
    let got = wait_for(&receiver, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.count(),
        1,
        "the C filter drops `others-1`: {got:?}"
    );
    assert_eq!(got[0]["name"], "ADA");
    assert_eq!(
        got[0]["transformedBy"], "javascript",
        "the JS stage ran last: {}",
        got[0]
    );
    assert_eq!(
        receiver.accepted()[0].header("esdb-record-headers-transformed-by"),
        "javascript"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_sink_signs_requests_and_respects_allow_hosts() {
    use hmac::{Hmac, Mac};

    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    let module = node.upload_example("webhook-hmac").await;
    assert_eq!(module["worlds"], json!(["sink"]), "{module}");
    let host = receiver.url.trim_start_matches("http://").to_owned();
    node.append(
        "signed-1",
        &[
            event("Paid", json!({ "n": 1 })),
            event("Paid", json!({ "n": 2 })),
        ],
    )
    .await;
    node.create_connector(
        "signed",
        json!({
            "sink": {
                "type": "wasm",
                "module": "webhook-hmac",
                "config": { "url": format!("{}/signed", receiver.url) },
                "secrets": { "secret": "s3cret" },
                "allowHosts": [host]
            },
            "filter": { "streams": { "prefixes": ["signed-"] } }
        }),
    )
    .await;
    wait_for(&receiver, 2).await;
    for (received, n) in receiver.accepted().iter().zip([1, 2]) {
        assert_eq!(received.path, "/signed");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").expect("key");
        mac.update(&received.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(received.header("x-signature"), expected);
        let body: Value = serde_json::from_slice(&received.body).expect("json");
        assert_eq!(body["n"], n);
    }

    // The same sink pointed at a host outside allowHosts faults, saying why.
    node.create_connector(
        "escaping",
        json!({
            "sink": {
                "type": "wasm",
                "module": "webhook-hmac",
                "config": { "url": format!("{}/signed", receiver.url) },
                "secrets": { "secret": "s3cret" },
                "allowHosts": ["hooks.example.com"]
            },
            "filter": { "streams": { "prefixes": ["signed-"] } }
        }),
    )
    .await;
    let status = eventually(
        Duration::from_secs(30),
        "the escaping sink to fault",
        || async {
            let status = node.status("escaping").await;
            (status["state"] == "faulted").then_some(status)
        },
    )
    .await;
    let message = status["lastError"]["message"]
        .as_str()
        .expect("message")
        .to_lowercase();
    assert!(
        message.contains("denied") || message.contains("refused"),
        "{message}"
    );
    assert_eq!(
        receiver.count(),
        2,
        "nothing reached the receiver from the escaping sink"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_runs_the_chain_without_creating_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    node.upload_example("filter-by-type").await;
    node.upload_example("misbehave").await;
    node.append(
        "shop-1",
        &[
            event("OrderPlaced", json!({ "n": 1 })),
            event("OrderCancelled", json!({ "n": 2 })),
            event("OrderPlaced", json!({ "n": 3, "poison": 1 })),
        ],
    )
    .await;
    let (status, body) = node
        .post(
            "/preview",
            &json!({
                "filter": { "streams": { "prefixes": ["shop-"] } },
                "last": 10,
                "transforms": [
                    { "module": "filter-by-type", "config": { "types": ["OrderPlaced"] } },
                    { "module": "misbehave", "config": { "mode": "invalid" } }
                ]
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let outcomes: Vec<(&str, u64)> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().expect("outcome"),
                r["event"]["data"]["n"].as_u64().expect("n"),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![("delivered", 1), ("dropped", 2), ("dead-lettered", 3)]
    );
    assert_eq!(body["results"][0]["records"][0]["data"]["n"], 1);
    assert_eq!(
        body["results"][1]["stage"],
        "transforms[0] (filter-by-type)"
    );
    assert_eq!(
        body["summary"],
        json!({ "delivered": 1, "dropped": 1, "deadLettered": 1 })
    );

    // Events given in the request work the same way.
    let (status, body) = node
        .post(
            "/preview",
            &json!({
                "events": [{ "eventType": "OrderCancelled", "data": {} }],
                "transforms": [{ "module": "filter-by-type", "config": { "types": ["OrderPlaced"] } }]
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["outcome"], "dropped");
    let (_, connectors) = node.get("/connectors").await;
    assert_eq!(connectors, json!([]), "a preview creates nothing");

    let (status, body) = node
        .post(
            "/preview",
            &json!({ "last": 1, "transforms": [{ "module": "nope" }] }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().expect("message").contains("nope"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_and_compiled_components_survive_a_restart_and_pins_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    let node = NodeProcess::start(dir.path()).await;
    let module = node.upload_example("filter-by-type").await;
    let pinned = module["reference"].as_str().expect("reference").to_owned();
    node.create_connector(
        "pinned",
        json!({
            "sink": http_sink(&receiver),
            "filter": { "streams": { "prefixes": ["pins-"] } },
            "transforms": [{ "module": pinned, "config": { "types": ["Kept"] } }]
        }),
    )
    .await;
    node.append(
        "pins-1",
        &[
            event("Kept", json!({ "n": 1 })),
            event("Gone", json!({ "n": 2 })),
        ],
    )
    .await;
    wait_for(&receiver, 1).await;
    let (status, body) = node
        .call(reqwest::Method::DELETE, "/modules/filter-by-type", None)
        .await;
    assert_eq!(status, 409, "a module in use cannot be deleted: {body}");
    assert_eq!(body["code"], "module-in-use");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("pinned"),
        "{body}"
    );
    node.terminate();

    let cached: Vec<_> = walk(&dir.path().join("wasm-cache"));
    assert!(
        cached.iter().any(|p| p.ends_with(".cwasm")),
        "a compiled artifact is cached: {cached:?}"
    );
    let node = NodeProcess::start(dir.path()).await;
    let (status, modules) = node.get("/modules").await;
    assert_eq!(status, 200);
    assert_eq!(modules[0]["name"], "filter-by-type", "{modules}");
    node.append("pins-1", &[event("Kept", json!({ "n": 3 }))])
        .await;
    wait_for(&receiver, 2).await;
    assert_eq!(receiver.numbers(), vec![1, 3]);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}
