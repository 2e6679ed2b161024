//! The console sink through the real binary, with the JSONPath filter.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{event, eventually, NodeProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_prints_json_lines_of_the_events_that_pass_the_json_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let totals = [5, 150, 99, 101, 300, 100];
    let events: Vec<Value> = totals
        .iter()
        .map(|t| event("OrderPlaced", json!({ "total": t })))
        .collect();
    node.append("orders-7", &events).await;
    node.append("other-1", &[event("OrderPlaced", json!({ "total": 1000 }))])
        .await;
    node.create_connector(
        "big-orders",
        json!({
            "sink": { "type": "console", "format": "json" },
            "filter": { "streams": { "prefixes": ["orders-"] }, "jsonPath": "$[?(@.total > 100)]" }
        }),
    )
    .await;

    let lines = eventually(Duration::from_secs(30), "three printed events", || async {
        let lines: Vec<Value> = node
            .output()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON line: {l}")))
            .collect();
        (lines.len() >= 3).then_some(lines)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(node.output().lines().count(), 3, "only the matching events");
    let printed: Vec<(u64, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["revision"].as_u64().expect("revision"),
                l["data"]["total"].as_u64().expect("total"),
            )
        })
        .collect();
    assert_eq!(printed, vec![(1, 150), (3, 101), (4, 300)]);
    for (line, source) in lines.iter().zip([&events[1], &events[3], &events[4]]) {
        assert_eq!(line["id"], source["eventId"]);
        assert_eq!(line["stream"], "orders-7");
        assert_eq!(line["type"], "OrderPlaced");
    }
    let status = node.status("big-orders").await;
    assert_eq!(status["delivered"], 3);
    assert_eq!(status["filteredOut"], 3);
}
