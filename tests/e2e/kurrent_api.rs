//! KurrentDB Connectors' management API on the real binary: definitions
//! written for KurrentDB's HTTP and Serilog sinks, its verbs (start, stop,
//! reset to a position, settings, rename) and its filtered listing, with a
//! real receiver on loopback.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{event, eventually, NodeProcess, Receiver};

const TOKEN: &str = "t0ken-kept-s3cret";

/// Sends `method path` with no body, as `curl -X POST` does.
async fn bare(node: &NodeProcess, method: Method, path: &str) -> (u16, Value) {
    node.call(method, path, None).await
}

async fn listing(node: &NodeProcess, query: &str) -> Value {
    let (status, body) = node.get(&format!("/connectors?{query}")).await;
    assert_eq!(status, 200, "GET /connectors?{query}: {body}");
    body
}

fn ids(listing: &Value) -> Vec<String> {
    listing["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            item["connectorId"]
                .as_str()
                .expect("connectorId")
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kurrentdb_http_sink_definition_runs_unchanged_under_kurrentdb_verbs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    let mut answers = Vec::new();
    for n in 0..3 {
        node.append(
            "example-stream",
            &[event("VehicleRegistered", json!({ "n": n }))],
        )
        .await;
    }
    node.append(
        "other-stream",
        &[event("VehicleRegistered", json!({ "n": 99 }))],
    )
    .await;

    // The body of KurrentDB's HTTP sink quick start, with a bearer token.
    let settings = json!({
        "instanceTypeName": "http-sink",
        "url": format!("{}/{{schema-subject}}", receiver.url),
        "subscription:filter:scope": "stream",
        "subscription:filter:filterType": "streamId",
        "subscription:filter:expression": "example-stream",
        "subscription:initialPosition": "earliest",
        "authentication:method": "Bearer",
        "authentication:bearer:token": TOKEN,
        "logging:enabled": "true"
    });
    let (status, created) = node
        .post(
            "/connectors/http-sink-connector",
            &json!({ "name": "Demo HTTP Sink", "settings": settings }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], "Demo HTTP Sink");
    assert_eq!(
        created["enabled"], false,
        "created stopped, as in KurrentDB"
    );
    assert_eq!(created["definition"]["sink"]["type"], "http");
    answers.push(created);

    let stopped = listing(
        &node,
        "state=CONNECTOR_STATE_STOPPED&instanceTypeName=http-sink&includeSettings=true",
    )
    .await;
    assert_eq!(ids(&stopped), ["http-sink-connector"], "{stopped}");
    assert_eq!(stopped["totalCount"], 1);
    assert_eq!(stopped["paging"], json!({ "page": 1, "pageSize": 100 }));
    let item = &stopped["items"][0];
    assert_eq!(item["name"], "Demo HTTP Sink");
    assert_eq!(item["settings"]["authentication:bearer:token"], "******");
    assert_eq!(
        item["settings"]["url"],
        format!("{}/{{event-type}}", receiver.url)
    );
    answers.push(stopped.clone());
    assert_eq!(receiver.count(), 0, "nothing is sent before a start");

    // Start, with no body, as KurrentDB's documentation sends it.
    let (status, started) =
        bare(&node, Method::POST, "/connectors/http-sink-connector/start").await;
    assert_eq!(status, 200, "{started}");
    receiver.wait_for_count(3).await;
    let received = receiver.accepted();
    assert_eq!(
        receiver.numbers(),
        [0, 1, 2],
        "only example-stream, in order"
    );
    for request in &received {
        assert_eq!(
            request.path, "/VehicleRegistered",
            "the event type fills the URL"
        );
        assert_eq!(request.header("authorization"), format!("Bearer {TOKEN}"));
        assert_eq!(request.header("esdb-record-stream-id"), "example-stream");
    }
    eventually(Duration::from_secs(20), "a RUNNING state", || async {
        let running = listing(&node, "state=CONNECTOR_STATE_RUNNING").await;
        (ids(&running) == ["http-sink-connector"]).then_some(())
    })
    .await;

    // Settings: read back (secret hidden), then changed with the hidden
    // secret sent back as it was shown.
    let (status, shown) = node.get("/connectors/http-sink-connector/settings").await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["settings"]["instanceTypeName"], "http-sink");
    assert_eq!(shown["settings"]["authentication:bearer:token"], "******");
    assert!(shown["settingsUpdateTime"].is_string(), "{shown}");
    answers.push(shown.clone());
    let mut changed = shown["settings"].clone();
    changed["url"] = json!(format!("{}/v2/{{stream}}", receiver.url));
    let (status, body) = node
        .call(
            Method::PUT,
            "/connectors/http-sink-connector/settings",
            Some(&changed),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    answers.push(body);
    node.append(
        "example-stream",
        &[event("VehicleRegistered", json!({ "n": 3 }))],
    )
    .await;
    receiver.wait_for_count(4).await;
    let last = receiver.accepted().pop().expect("the fourth event");
    assert_eq!(last.path, "/v2/example-stream");
    assert_eq!(
        last.header("authorization"),
        format!("Bearer {TOKEN}"),
        "the token was kept"
    );

    // A rename does not restart the pipeline.
    let before = node.status("http-sink-connector").await;
    let (status, renamed) = node
        .call(
            Method::PUT,
            "/connectors/http-sink-connector/rename",
            Some(&json!({ "name": "Vehicles to the API" })),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "Vehicles to the API");
    assert_eq!(
        renamed["status"]["run"]["startedAt"], before["run"]["startedAt"],
        "the same run goes on"
    );
    let named = listing(&node, "connectorId=http-sink-connector").await;
    assert_eq!(named["items"][0]["name"], "Vehicles to the API");

    // Stop, reset to the start (`/reset/0`), start: everything again.
    let (status, body) = bare(&node, Method::POST, "/connectors/http-sink-connector/stop").await;
    assert_eq!((status, &body["enabled"]), (200, &json!(false)), "{body}");
    let (status, body) = bare(
        &node,
        Method::POST,
        "/connectors/http-sink-connector/reset/0",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    receiver.clear();
    let (status, _) = bare(&node, Method::POST, "/connectors/http-sink-connector/start").await;
    assert_eq!(status, 200);
    receiver.wait_for_count(4).await;
    assert_eq!(receiver.numbers(), [0, 1, 2, 3]);

    // Start at a position: the events after it, reset and started at once.
    let events = node.read_stream("example-stream").await;
    let second = events[1]["position"].as_u64().expect("position");
    receiver.clear();
    let (status, body) = bare(
        &node,
        Method::POST,
        &format!("/connectors/http-sink-connector/start/{second}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    receiver.wait_for_count(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.numbers(), [2, 3]);

    let every_answer = serde_json::to_string(&answers).expect("answers");
    assert!(!every_answer.contains(TOKEN), "a secret in an answer");
    let (_, native) = node.get("/connectors/http-sink-connector").await;
    assert!(!native.to_string().contains(TOKEN), "{native}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kurrentdb_serilog_sink_writes_each_event_to_the_console() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    node.append("orders-1", &[event("OrderPlaced", json!({ "total": 12 }))])
        .await;
    node.append("orders-1", &[event("OrderPlaced", json!({ "total": 5 }))])
        .await;
    let last = node
        .append(
            "invoices-1",
            &[event("InvoiceSent", json!({ "total": 30 }))],
        )
        .await;
    // A `jsonPath` filter as KurrentDB writes it: on the record's shape.
    let query = "$[?($.streamId == 'orders-1' && $.value.total > 10)]";
    let (status, body) = node
        .post(
            "/connectors/serilog-sink",
            &json!({ "settings": {
                "InstanceTypeName": "serilog-sink",
                "Subscription:Filter:Scope": "Record",
                "Subscription:Filter:FilterType": "JsonPath",
                "Subscription:Filter:Expression": query,
                "Subscription:InitialPosition": "Earliest"
            }}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["definition"]["filter"]["jsonPathOn"], "record",
        "{body}"
    );
    let (status, _) = bare(&node, Method::POST, "/connectors/serilog-sink/start").await;
    assert_eq!(status, 200);
    eventually(
        Duration::from_secs(20),
        "every event considered",
        || async {
            let status = node.status("serilog-sink").await;
            (status["position"].as_u64() >= Some(last)).then_some(())
        },
    )
    .await;
    let output = node.output();
    assert!(
        output.contains("orders-1@0 OrderPlaced {\"total\":12}"),
        "{output}"
    );
    assert!(!output.contains("orders-1@1"), "{output}");
    assert!(!output.contains("invoices-1"), "{output}");
    let every = listing(&node, "instanceTypeName=serilog-sink&includeSettings=true").await;
    assert_eq!(ids(&every), ["serilog-sink"]);
    assert_eq!(
        every["items"][0]["name"], "serilog-sink",
        "named after its id"
    );
    let settings = &every["items"][0]["settings"];
    assert_eq!(settings["subscription:filter:filterType"], "jsonPath");
    assert_eq!(settings["subscription:filter:expression"], query);

    // The API's document describes the listing with the fields it has.
    let (_, document) = node.get("/openapi.json").await;
    let schemas = &document["components"]["schemas"];
    let keys = |value: &Value| -> Vec<String> {
        let mut keys: Vec<String> = value
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&schemas["KurrentListing"]["properties"]), keys(&every));
    let item_schema = &schemas["KurrentItem"]["properties"];
    for field in keys(&every["items"][0]) {
        assert!(
            item_schema.get(&field).is_some(),
            "`{field}` undocumented: {item_schema}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_run_here_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let refusals = [
        (
            json!({ "instanceTypeName": "kafka-sink" }),
            "custom sink component",
        ),
        (
            json!({ "instanceTypeName": "serilog-sink", "transformer:enabled": "true", "transformer:function": "ZnVuY3Rpb24=" }),
            "WebAssembly",
        ),
        (
            json!({ "instanceTypeName": "http-sink", "url": "http://127.0.0.1:9/", "urll": "x" }),
            "`urll` is not a setting of `http-sink`",
        ),
        (
            json!({ "instanceTypeName": "http-sink" }),
            "`url` is required",
        ),
    ];
    for (settings, says) in refusals {
        let (status, body) = node
            .post("/connectors/refused", &json!({ "settings": settings }))
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid-setting")),
            "{body}"
        );
        assert!(
            body["message"].as_str().unwrap_or("").contains(says),
            "{body}"
        );
    }
    let (status, body) = node
        .post(
            "/connectors/refused",
            &json!({ "settings": { "instanceTypeName": "serilog-sink" }, "enable": true }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("`name` and `settings`"),
        "{body}"
    );

    // A native definition with what a settings map cannot say.
    node.upload_example("redact").await;
    node.create_connector(
        "native",
        json!({
            "sink": { "type": "console" },
            "transforms": [{ "module": "redact", "config": { "remove": ["card"] } }]
        }),
    )
    .await;
    let (status, body) = node.get("/connectors/native/settings").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("no-settings-form")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("`transforms`"),
        "{body}"
    );
    let wasm = listing(&node, "includeSettings=true").await;
    assert_eq!(ids(&wasm), ["native"]);
    assert!(wasm["items"][0].get("settings").is_none(), "{wasm}");

    for (path, status, code) in [
        ("/connectors?colour=red", 400, "invalid-query"),
        ("/connectors?state=SLEEPING", 400, "invalid-query"),
        ("/connectors?pageSize=0", 400, "invalid-query"),
        ("/connectors/missing/settings", 404, "not-found"),
    ] {
        let (got, body) = node.get(path).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }
    for (path, status, code) in [
        ("/connectors/native/start/soon", 400, "invalid-position"),
        ("/connectors/native/reset/99999", 422, "invalid-position"),
        ("/connectors/missing/start", 404, "not-found"),
    ] {
        let (got, body) = bare(&node, Method::POST, path).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }
    let (status, body) = node
        .call(
            Method::PUT,
            "/connectors/native/rename",
            Some(&json!({ "name": " " })),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid-name")),
        "{body}"
    );
    let paged = listing(&node, "page=2&pageSize=1").await;
    assert_eq!(
        (paged["totalCount"].as_u64(), ids(&paged).len()),
        (Some(1), 0)
    );
}
