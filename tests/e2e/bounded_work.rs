//! Hostile input costs bounded work: a JSONPath query that would build
//! billions of node references is refused at creation, an event too deep or
//! too big for an allowed query is dead-lettered with the reason (the node
//! stays up and later events flow), and reads and previews of large events
//! are bounded in bytes.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{event, eventually, NodeProcess, Receiver};

/// `[[[...[1]...]]]`, `levels` arrays deep (about two bytes a level).
fn nested_arrays(levels: usize) -> Value {
    (0..levels).fold(json!(1), |inner, _| json!([inner]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_json_path_queries_are_refused_at_create_and_preview() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let hostile = json!({ "jsonPath": "$..*..*..*..*..*..*" });

    let (status, body) = node
        .post(
            "/connectors/greedy",
            &json!({ "sink": { "type": "console" }, "filter": hostile }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid-setting");
    let message = body["message"].as_str().expect("message");
    for part in ["filter.jsonPath", "the most is 3", "e.g."] {
        assert!(message.contains(part), "`{message}` should name `{part}`");
    }

    let (status, body) = node.post("/preview", &json!({ "filter": hostile })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"]
        .as_str()
        .expect("message")
        .contains("filter.jsonPath"));

    let (status, _) = node.get("/connectors/greedy").await;
    assert_eq!(status, 404, "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_too_big_for_the_json_path_are_dead_lettered_and_later_events_flow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    node.create_connector(
        "skus",
        json!({
            "sink": { "type": "http", "url": receiver.url },
            "filter": { "jsonPath": "$..*..*..sku", "streams": { "prefixes": ["orders-"] } }
        }),
    )
    .await;

    let order = |n: u64| {
        event(
            "Ordered",
            json!({ "n": n, "order": { "items": [{ "sku": "A1" }] } }),
        )
    };
    // Deeper than any query is evaluated on; and within that depth, too many
    // nested levels for three descendant segments.
    let too_deep = event("Ordered", json!({ "n": 100, "order": nested_arrays(120) }));
    let wide: Vec<u32> = (0..2000).collect();
    let too_big = event(
        "Ordered",
        json!({ "n": 101, "order": nested_arrays(60), "wide": wide }),
    );
    let refused_ids = [
        too_deep["eventId"].as_str().expect("id").to_owned(),
        too_big["eventId"].as_str().expect("id").to_owned(),
    ];
    node.append(
        "orders-1",
        &[order(1), too_deep, order(2), too_big, order(3)],
    )
    .await;

    eventually(Duration::from_secs(30), "three deliveries", || async {
        (receiver.count() >= 3).then_some(())
    })
    .await;
    assert_eq!(receiver.numbers(), [1, 2, 3], "the plain events, in order");

    let letters = eventually(Duration::from_secs(10), "two dead letters", || async {
        let letters = node.read_stream("$connectors/skus/dead-letters").await;
        (letters.len() >= 2).then_some(letters)
    })
    .await;
    let ids: Vec<&str> = letters
        .iter()
        .map(|l| l["data"]["event"]["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, refused_ids, "both refused events, in log order");
    for letter in &letters {
        assert_eq!(letter["data"]["stage"], "filter.jsonPath", "{letter}");
    }
    let reasons: Vec<&str> = letters
        .iter()
        .map(|l| l["data"]["reason"].as_str().expect("reason"))
        .collect();
    assert!(reasons[0].contains("121 levels deep"), "{}", reasons[0]);
    assert!(reasons[1].contains("node-list entries"), "{}", reasons[1]);

    let status = node.status("skus").await;
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["deadLettered"], 2, "{status}");
    assert_eq!(status["delivered"], 3, "{status}");

    // Later events still flow, and `/preview` shows the refusal too.
    node.append("orders-1", &[order(4)]).await;
    eventually(Duration::from_secs(30), "the fourth delivery", || async {
        (receiver.count() >= 4).then_some(())
    })
    .await;
    let (code, preview) = node
        .post(
            "/preview",
            &json!({
                "filter": { "jsonPath": "$..*..*..sku", "streams": { "prefixes": ["orders-"] } },
                "last": 3
            }),
        )
        .await;
    assert_eq!(code, 200, "{preview}");
    assert_eq!(
        preview["summary"],
        json!({ "delivered": 2, "dropped": 0, "deadLettered": 1 }),
        "{preview}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_reads_and_previews_of_large_events_are_bounded_in_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let big = "x".repeat(512 * 1024);
    for batch in 0..10 {
        let events: Vec<Value> = (0..4)
            .map(|i| event("Large", json!({ "n": batch * 4 + i, "payload": big })))
            .collect();
        node.append("large-1", &events).await;
    }

    let (status, page) = node.get("/streams/large-1?count=4096").await;
    assert_eq!(status, 200);
    let first = page["events"].as_array().expect("events");
    assert!(
        !first.is_empty() && first.len() < 40,
        "a 16 MiB page holds fewer than forty 512 KiB events, got {}",
        first.len()
    );
    let next = page["nextFrom"]
        .as_u64()
        .expect("where the next page starts");
    assert_eq!(next, first.len() as u64);

    // Following `nextFrom` reads every event exactly once, in order.
    let all = node.read_stream("large-1").await;
    let numbers: Vec<u64> = all
        .iter()
        .map(|e| e["data"]["n"].as_u64().expect("n"))
        .collect();
    assert_eq!(numbers, (0..40).collect::<Vec<_>>());

    // `/preview` runs over at most 16 MiB of them, the newest.
    let (status, preview) = node
        .post(
            "/preview",
            &json!({ "filter": { "streams": { "prefixes": ["large-"] } }, "last": 1000 }),
        )
        .await;
    assert_eq!(status, 200);
    let results = preview["results"].as_array().expect("results");
    assert!(
        !results.is_empty() && results.len() < 40,
        "16 MiB hold fewer than forty 512 KiB events, got {}",
        results.len()
    );
    let newest = &results[results.len() - 1]["event"]["data"]["n"];
    assert_eq!(newest, 39, "the newest events, oldest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_fault_policy_an_event_too_big_for_the_json_path_faults_after_the_ones_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    let order = |n: u64| event("Ordered", json!({ "n": n, "sku": "A1" }));
    let mut events: Vec<Value> = (0..4).map(order).collect();
    events.push(event(
        "Ordered",
        json!({ "n": 4, "deep": nested_arrays(100) }),
    ));
    events.extend((5..8).map(order));
    node.append("orders-2", &events).await;
    node.create_connector(
        "strict-skus",
        json!({
            "sink": { "type": "http", "url": receiver.url },
            "filter": { "jsonPath": "$..sku", "streams": { "prefixes": ["orders-"] } },
            "onFailure": "fault"
        }),
    )
    .await;

    let status = eventually(
        Duration::from_secs(30),
        "the connector to fault",
        || async {
            let status = node.status("strict-skus").await;
            (status["state"] == "faulted").then_some(status)
        },
    )
    .await;
    let message = status["lastError"]["message"].as_str().expect("message");
    assert!(
        message.contains("filter.jsonPath refused event"),
        "{message}"
    );
    assert!(message.contains("levels deep"), "{message}");
    assert_eq!(
        receiver.numbers(),
        [0, 1, 2, 3],
        "the events before it, only"
    );
    let stream = node.read_stream("orders-2").await;
    assert_eq!(
        status["checkpoint"], stream[3]["position"],
        "checkpoint right before the refused event: {status}"
    );
}
