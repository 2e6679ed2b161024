//! Mistakes with WebAssembly stages are caught when they are made: a config
//! the component's `init` refuses is answered at create, `PUT` and preview
//! (fixtures in `fixtures/stages/`, one file per case); a connector's status
//! shows which module version each stage runs and when a newer upload waits;
//! an upload says how long it compiled and who follows the name; a sink's
//! request to a host outside `allowHosts` faults naming the entry to add;
//! preview applies the connector's filter to inline events.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{event, eventually, NodeProcess, Receiver};

const EXAMPLES: [&str; 4] = ["redact", "filter-by-type", "webhook-hmac", "misbehave"];

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/fixtures/stages");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("fixture entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_gets_its_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    for name in EXAMPLES {
        node.upload_example(name).await;
    }
    let existing = json!({
        "sink": { "type": "console" },
        "enable": false,
        "transforms": [{ "module": "redact", "config": { "remove": ["card"] } }]
    });
    node.create_connector("existing", existing).await;
    let (_, before) = node.get("/connectors/existing").await;

    let mut mismatches = Vec::new();
    let files = fixtures();
    assert!(files.len() >= 5, "fixtures missing: {files:?}");
    for file in files {
        let case: Value =
            serde_json::from_slice(&std::fs::read(&file).expect("read fixture")).expect("fixture");
        let request = &case["request"];
        let method: reqwest::Method = request["method"]
            .as_str()
            .expect("method")
            .parse()
            .expect("known method");
        let path = request["path"].as_str().expect("path");
        let (status, body) = node
            .call(method.clone(), path, Some(&request["body"]))
            .await;
        let answer = json!({ "status": status, "code": body["code"], "message": body["message"] });
        let expected =
            json!({ "status": case["status"], "code": case["code"], "message": case["message"] });
        if answer != expected {
            mismatches.push(format!(
                "{}:\n  got      {answer}\n  expected {expected}",
                file.display()
            ));
        }
        if method == reqwest::Method::POST && path.starts_with("/connectors/") {
            let (status, _) = node.get(path).await;
            assert_eq!(
                status,
                404,
                "{}: a refused create leaves nothing",
                file.display()
            );
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let (_, after) = node.get("/connectors/existing").await;
    assert_eq!(
        after["revision"], before["revision"],
        "a refused PUT changes nothing"
    );
}

/// The digest each stage of `id` runs, from its status.
async fn stage_digests(node: &NodeProcess, id: &str) -> Vec<Value> {
    node.status(id).await["stages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_upload_is_announced_and_runs_from_the_next_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    let upload = |name: &'static str| {
        let bytes = std::fs::read(crate::support::example(name)).expect("example");
        let node = &node;
        async move {
            node.call_typed(
                reqwest::Method::PUT,
                "/modules/picker",
                "application/wasm",
                bytes,
            )
            .await
        }
    };
    // `filter-by-type` keeps only `Keep`; `misbehave` (mode `ok`) keeps all.
    let (status, first) = upload("filter-by-type").await;
    assert_eq!(status, 201, "{first}");
    assert!(first["compileMs"].is_u64(), "{first}");
    assert_eq!(first["followers"], json!([]));
    assert!(node.log().contains("compiling the uploaded module"));
    assert!(node.log().contains("compiled component cached"));
    let old = first["digest"].as_str().expect("digest").to_owned();

    node.create_connector(
        "follows",
        json!({
            "sink": { "type": "http", "url": receiver.url },
            "filter": { "streams": { "prefixes": ["pick-"] } },
            "transforms": [{ "module": "picker", "config": { "types": ["Keep"] } }]
        }),
    )
    .await;
    node.append(
        "pick-1",
        &[
            event("Keep", json!({ "n": 1 })),
            event("Other", json!({ "n": 2 })),
        ],
    )
    .await;
    receiver
        .wait_for_distinct(1, Duration::from_secs(30), "the kept event")
        .await;
    assert_eq!(
        stage_digests(&node, "follows").await,
        vec![
            json!({ "stage": "transforms[0]", "module": "picker", "digest": old, "pinned": false, "upToDate": true })
        ]
    );

    let (status, second) = upload("misbehave").await;
    assert_eq!(status, 201, "{second}");
    let new = second["digest"].as_str().expect("digest").to_owned();
    assert_ne!(old, new);
    let follower = &second["followers"][0];
    assert_eq!(follower["connector"], "follows", "{second}");
    assert_eq!(follower["stages"], json!(["transforms[0]"]));
    assert_eq!(follower["runs"], old.as_str());
    let picks_up = follower["picksUp"].as_str().expect("picksUp");
    assert!(picks_up.contains("next start"), "{picks_up}");

    // The running connector keeps its version, and its status says a newer
    // one waits.
    assert_eq!(
        stage_digests(&node, "follows").await,
        vec![
            json!({ "stage": "transforms[0]", "module": "picker", "digest": old, "pinned": false, "upToDate": false, "latestDigest": new })
        ]
    );
    node.append(
        "pick-2",
        &[
            event("Other", json!({ "n": 3 })),
            event("Keep", json!({ "n": 4 })),
        ],
    )
    .await;
    receiver
        .wait_for_distinct(2, Duration::from_secs(30), "the second kept event")
        .await;
    assert_eq!(receiver.count(), 2, "the old version still drops `Other`");

    // Disable then enable: the new version runs.
    let (status, body) = node.post("/connectors/follows/disable", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = node.post("/connectors/follows/enable", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    eventually(
        Duration::from_secs(30),
        "the new version to run",
        || async {
            let stages = stage_digests(&node, "follows").await;
            (stages
                .first()
                .is_some_and(|s| s["digest"] == new.as_str() && s["upToDate"] == true))
            .then_some(())
        },
    )
    .await;
    assert!(second["followers"][0].get("warning").is_none(), "{second}");
    node.append("pick-3", &[event("Other", json!({ "n": 5 }))])
        .await;
    receiver
        .wait_for_distinct(
            3,
            Duration::from_secs(30),
            "`Other` through the new version",
        )
        .await;

    // A version whose `init` refuses the follower's config is uploaded, and
    // the answer warns before the connector's next start faults it.
    let (status, third) = upload("redact").await;
    assert_eq!(status, 201, "{third}");
    assert_eq!(
        third["followers"][0]["warning"],
        "it would fault at its next start: `transforms[0].config`: module `picker` refused its config: config needs `remove` (dotted paths) or `keep` (top-level fields)",
        "{third}"
    );
    assert_eq!(node.status("follows").await["state"], "running");
    // Restarted without a new event, it faults at once, saying why.
    let (status, body) = node.post("/connectors/follows/disable", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = node.post("/connectors/follows/enable", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let message = node.wait_fault_message("follows").await;
    assert!(
        message.contains("init failed: config needs `remove`"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_without_allow_hosts_faults_naming_the_entry_to_add() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    node.upload_example("webhook-hmac").await;
    let host = receiver.url.trim_start_matches("http://").to_owned();
    node.append("hook-1", &[event("Paid", json!({ "n": 1 }))])
        .await;
    node.create_connector(
        "no-allow",
        json!({
            "sink": {
                "type": "wasm",
                "module": "webhook-hmac",
                "config": { "url": format!("{}/hook", receiver.url) },
                "secrets": { "secret": "s3cret" }
            },
            "filter": { "streams": { "prefixes": ["hook-"] } }
        }),
    )
    .await;
    let message = node.wait_fault_message("no-allow").await;
    assert!(
        message.contains(&format!(
            "`{host}` is not in `sink.allowHosts`; add it, e.g. `\"allowHosts\": [\"{host}\"]`"
        )),
        "{message}"
    );
    assert_eq!(receiver.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_applies_the_filter_to_inline_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    node.upload_example("redact").await;
    let (status, body) = node
        .post(
            "/preview",
            &json!({
                "filter": {
                    "streams": { "prefixes": ["shop-"] },
                    "eventTypes": { "prefixes": ["Order"] },
                    "jsonPath": "$[?(@.total > 100)]"
                },
                "transforms": [{ "module": "redact", "config": { "remove": ["card"] } }],
                "events": [
                    { "stream": "shop-1", "eventType": "OrderPlaced", "data": { "total": 150, "card": "4111" } },
                    { "stream": "other-1", "eventType": "OrderPlaced", "data": { "total": 150 } },
                    { "stream": "shop-1", "eventType": "Refunded", "data": { "total": 150 } },
                    { "stream": "shop-1", "eventType": "OrderPlaced", "data": { "total": 5 } },
                    { "stream": "shop-1", "eventType": "$system", "data": { "total": 150 } }
                ]
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let outcomes: Vec<(Value, Value)> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| (r["outcome"].clone(), r["stage"].clone()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (json!("delivered"), Value::Null),
            (json!("dropped"), json!("filter.streams")),
            (json!("dropped"), json!("filter.eventTypes")),
            (json!("dropped"), json!("filter.jsonPath")),
            (json!("dropped"), json!("filter.includeSystemEvents")),
        ],
        "{body}"
    );
    assert_eq!(
        body["results"][0]["records"][0]["data"],
        json!({ "total": 150 })
    );
    assert_eq!(
        body["summary"],
        json!({ "delivered": 1, "dropped": 4, "deadLettered": 0 })
    );
}
