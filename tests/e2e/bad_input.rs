//! Bad requests get a clear 4xx with a JSON `{"code", "message"}` body.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{event, NodeProcess};

fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str, fragment: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains(fragment),
        "`{message}` should contain `{fragment}`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let ok_sink = json!({ "type": "console" });

    let (s, b) = node
        .call_raw(Method::POST, "/connectors/a", b"{\"sink\": ".to_vec())
        .await;
    assert_error(s, &b, 400, "invalid-json", "malformed JSON");

    let (s, b) = node
        .call_raw(Method::POST, "/connectors/a", Vec::new())
        .await;
    assert_error(s, &b, 400, "invalid-json", "empty");

    // A name that is not UTF-8 once decoded gets a JSON error too.
    let (s, b) = node.get("/connectors/%ff").await;
    assert_error(s, &b, 400, "invalid-path", "percent-encode UTF-8");
    let (s, b) = node
        .post("/connectors/%ff%fe", &json!({ "sink": ok_sink }))
        .await;
    assert_error(s, &b, 400, "invalid-path", "percent-encode UTF-8");

    let (s, b) = node
        .post("/connectors/a", &json!({ "sinc": ok_sink }))
        .await;
    assert_error(
        s,
        &b,
        400,
        "invalid-body",
        "unknown field `sinc`, expected one of `sink`, `filter`",
    );
    assert!(
        b["message"].as_str().expect("message").contains("`enable`"),
        "{b}"
    );

    let (s, b) = node
        .post(
            "/connectors/a",
            &json!({ "sink": { "type": "http", "url": "http://x", "colour": 1 } }),
        )
        .await;
    assert_error(s, &b, 400, "invalid-body", "unknown field `colour`");

    let (s, b) = node
        .post(
            "/connectors/a",
            &json!({ "sink": { "type": "http", "url": "not a url" } }),
        )
        .await;
    assert_error(s, &b, 400, "invalid-setting", "sink.url");
    assert!(
        b["message"].as_str().expect("message").contains("e.g."),
        "a valid example: {b}"
    );

    let (s, b) = node
        .post(
            "/connectors/a",
            &json!({ "sink": { "type": "http", "url": "ftp://example.com/x" } }),
        )
        .await;
    assert_error(s, &b, 400, "invalid-setting", "sink.url");

    let (s, b) = node
        .post("/connectors/a", &json!({ "sink": { "type": "kafka" } }))
        .await;
    assert_error(s, &b, 400, "invalid-body", "kafka");

    let (s, b) = node
        .post(
            "/connectors/a",
            &json!({ "sink": ok_sink, "filter": { "streams": { "regex": "(" } } }),
        )
        .await;
    assert_error(s, &b, 400, "invalid-setting", "filter.streams.regex");

    let (s, b) = node
        .post(
            "/connectors/a",
            &json!({ "sink": ok_sink, "filter": { "jsonPath": "$[" } }),
        )
        .await;
    assert_error(s, &b, 400, "invalid-setting", "filter.jsonPath");

    let (s, b) = node
        .post(
            "/connectors/a",
            &json!({ "sink": ok_sink, "transforms": [{ "module": "ghost" }] }),
        )
        .await;
    assert_error(s, &b, 400, "invalid-setting", "transforms[0].module");
    assert!(
        b["message"]
            .as_str()
            .expect("message")
            .contains("PUT /modules/ghost"),
        "{b}"
    );

    let (s, b) = node
        .post(
            "/connectors/a",
            &json!({ "sink": ok_sink, "transforms": [{ "module": "bad name!" }] }),
        )
        .await;
    assert_error(s, &b, 400, "invalid-body", "transforms[0].module");

    let (s, b) = node
        .post(
            "/connectors/a",
            &json!({ "sink": { "type": "wasm", "module": "x", "allowHosts": ["https://a/b"] } }),
        )
        .await;
    assert_error(s, &b, 400, "invalid-setting", "sink.allowHosts[0]");

    let (s, b) = node
        .post(
            "/connectors/a",
            &json!({ "sink": ok_sink, "start": "yesterday" }),
        )
        .await;
    assert_error(s, &b, 400, "invalid-body", "start");

    let (s, b) = node
        .post(
            "/connectors/a",
            &json!({ "sink": ok_sink, "enable": "yes" }),
        )
        .await;
    assert_error(s, &b, 400, "invalid-body", "enable");

    let (s, b) = node
        .post("/connectors/bad%20id", &json!({ "sink": ok_sink }))
        .await;
    assert_error(s, &b, 400, "invalid-id", "not a valid connector id");

    let (s, b) = node.get("/connectors/nobody").await;
    assert_error(s, &b, 404, "not-found", "`nobody`");
    for action in ["enable", "disable", "reset"] {
        let (s, b) = node
            .post(&format!("/connectors/nobody/{action}"), &json!({}))
            .await;
        assert_error(s, &b, 404, "not-found", "`nobody`");
    }
    let (s, b) = node.call(Method::DELETE, "/connectors/nobody", None).await;
    assert_error(s, &b, 404, "not-found", "`nobody`");
    let (s, b) = node
        .call(
            Method::PUT,
            "/connectors/nobody",
            Some(&json!({ "sink": ok_sink })),
        )
        .await;
    assert_error(s, &b, 404, "not-found", "`nobody`");

    // Nothing was stored by any of the above.
    let (_, list) = node.get("/connectors").await;
    assert_eq!(list, json!([]));

    node.create_connector("a", json!({ "sink": ok_sink, "enable": false }))
        .await;
    let (s, b) = node
        .post("/connectors/a", &json!({ "sink": ok_sink }))
        .await;
    assert_error(s, &b, 409, "already-exists", "`a`");
    let (s, b) = node
        .post("/connectors/a/reset", &json!({ "to": "tomorrow" }))
        .await;
    assert_error(s, &b, 400, "invalid-body", "to");

    let (s, b) = node.call(Method::PATCH, "/connectors/a", None).await;
    assert_error(s, &b, 405, "method-not-allowed", "PATCH");
    let (s, b) = node.get("/nowhere").await;
    assert_error(s, &b, 404, "not-found", "/nowhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;

    let (s, b) = node
        .post("/streams/s-1", &json!({ "eventType": "X", "data": {} }))
        .await;
    assert_error(s, &b, 400, "invalid-body", "wrap the events in an array");

    let (s, b) = node
        .post(
            "/streams/s-1",
            &json!([{ "eventType": "X", "data": {}, "extra": 1 }]),
        )
        .await;
    assert_error(s, &b, 400, "invalid-body", "unknown field `extra`");

    let (s, b) = node
        .post(
            "/streams/s-1",
            &json!([{ "eventId": "nope", "eventType": "X", "data": {} }]),
        )
        .await;
    assert_error(s, &b, 400, "invalid-body", "[0].eventId");

    let (s, b) = node
        .post("/streams/%24connectors", &json!([event("X", json!({}))]))
        .await;
    assert_error(s, &b, 403, "system-stream", "system stream");

    node.append("s-1", &[event("X", json!({}))]).await;
    let (s, b) = node
        .post(
            "/streams/s-1?expectedRevision=no-stream",
            &json!([event("X", json!({}))]),
        )
        .await;
    assert_error(s, &b, 409, "wrong-expected-revision", "s-1");
    assert_eq!(b["details"]["currentRevision"], 0);
    let (s, b) = node
        .post(
            "/streams/s-1?expectedRevision=soon",
            &json!([event("X", json!({}))]),
        )
        .await;
    assert_error(s, &b, 400, "invalid-expected-revision", "soon");
    let (s, b) = node
        .post(
            "/streams/s-1?expectedRevision=0",
            &json!([event("X", json!({}))]),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["nextExpectedRevision"], 1);

    let (s, b) = node.get("/streams/missing").await;
    assert_error(s, &b, 404, "not-found", "missing");
    let (s, b) = node.get("/streams/s-1?direction=sideways").await;
    assert_error(s, &b, 400, "invalid-query", "sideways");
    let (s, b) = node.get("/streams/s-1?count=0").await;
    assert_error(s, &b, 400, "invalid-query", "count");
    let (s, b) = node.get("/streams/s-1?colour=red").await;
    assert_error(s, &b, 400, "invalid-query", "colour");

    // Reads both ways.
    let (s, b) = node.get("/streams/s-1?direction=backwards&count=1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["events"][0]["revision"], 1);
    let (s, b) = node.get("/streams/$all?from=start&count=10").await;
    assert_eq!(s, 200, "{b}");
    assert!(b["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["stream"] == "s-1"));

    // Last: the node closes the connection after refusing a body unread.
    let big = vec![b' '; 17 * 1024 * 1024];
    let (s, b) = node.call_raw(Method::POST, "/streams/s-1", big).await;
    assert_error(s, &b, 413, "payload-too-large", "larger");
}
