//! Dead-letter replay with the real binary and a real receiver: events the
//! receiver refused are dead-lettered, then replayed through the current
//! definition once it accepts them, in their original order; the outcome
//! of each replay is kept, so a second replay skips what was delivered.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{event, eventually, NodeProcess, Receiver};

const REPLAY: &str = "/connectors/hook/dead-letters/replay";

/// What `connectors ARGS` printed against `node`; it must succeed.
fn connectors(node: &NodeProcess, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_connectors"))
        .args(args)
        .env("CONNECTORS_SERVER", &node.base)
        .env_remove("CONNECTORS_TOKEN")
        .output()
        .expect("run the connectors binary");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A connector `hook` whose receiver refused events `1..=count` of stream
/// `replay-1` with 400, so they are all dead-lettered; the receiver
/// refuses nothing afterwards.
pub async fn dead_lettered_hook(node: &NodeProcess, count: u64) -> Receiver {
    let receiver = Receiver::start().await;
    receiver.fail_all(Some(400));
    let events: Vec<Value> = (1..=count)
        .map(|n| event("Numbered", json!({ "n": n })))
        .collect();
    node.append("replay-1", &events).await;
    node.create_connector(
        "hook",
        json!({
            "sink": { "type": "http", "url": receiver.url },
            "filter": { "streams": { "prefixes": ["replay-"] } }
        }),
    )
    .await;
    eventually(
        Duration::from_secs(60),
        "every event to be dead-lettered",
        || async { (node.status("hook").await["deadLettered"] == count).then_some(()) },
    )
    .await;
    receiver.fail_all(None);
    receiver
}

/// The outcome of each result of a replay's answer.
fn outcomes(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["outcome"].as_str().expect("outcome").to_owned())
        .collect()
}

/// The last replay's outcome of each letter in the listing.
async fn listed_replays(node: &NodeProcess) -> Vec<Value> {
    let (code, page) = node.get("/connectors/hook/dead-letters?limit=1000").await;
    assert_eq!(code, 200, "{page}");
    page["deadLetters"]
        .as_array()
        .expect("letters")
        .iter()
        .map(|l| l["replayed"]["outcome"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_events_are_replayed_in_order_once_the_destination_accepts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = dead_lettered_hook(&node, 5).await;
    receiver.fail_all(Some(400));

    // Still refused: each letter fails with the reason and stays replayable.
    let (code, answer) = node.post(REPLAY, &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(outcomes(&answer), ["failed"; 5], "{answer}");
    assert_eq!(answer["summary"]["failed"], 5, "{answer}");
    assert_eq!(answer["results"][0]["stage"], "sink", "{answer}");
    let reason = answer["results"][0]["reason"].as_str().expect("reason");
    assert!(reason.contains("400"), "{reason}");
    assert_eq!(listed_replays(&node).await, vec![json!("failed"); 5]);

    // Accepted now: a range replays only its letters.
    receiver.fail_all(None);
    let (code, answer) = node.post(REPLAY, &json!({ "from": 0, "to": 1 })).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(outcomes(&answer), ["delivered"; 2], "{answer}");
    assert_eq!(receiver.numbers(), [1, 2]);

    // The rest, in their original order; what was delivered is skipped.
    let (code, answer) = node.post(REPLAY, &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        outcomes(&answer),
        ["skipped", "skipped", "delivered", "delivered", "delivered"],
        "{answer}"
    );
    assert_eq!(receiver.numbers(), [1, 2, 3, 4, 5]);
    assert_eq!(listed_replays(&node).await, vec![json!("delivered"); 5]);

    // A second replay delivers nothing twice, unless asked to.
    let (code, answer) = node.post(REPLAY, &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["summary"]["skipped"], 5, "{answer}");
    assert_eq!(receiver.count(), 5);
    let (code, answer) = node.post(REPLAY, &json!({ "again": true })).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["summary"]["delivered"], 5, "{answer}");
    assert_eq!(receiver.numbers(), [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);

    // The command line replays through the same route.
    let answer: Value = serde_json::from_str(&connectors(
        &node,
        &["dead-letters", "replay", "hook", "--output", "json"],
    ))
    .expect("JSON");
    assert_eq!(answer["summary"]["skipped"], 5, "{answer}");
    let table = connectors(
        &node,
        &[
            "dead-letters",
            "replay",
            "hook",
            "--from",
            "0",
            "--to",
            "0",
            "--again",
        ],
    );
    assert!(
        table.contains("OUTCOME") && table.contains("delivered"),
        "{table}"
    );
    assert!(
        table.contains("delivered 1, dropped 0, failed 0, skipped 0"),
        "{table}"
    );
    let table = connectors(&node, &["dead-letters", "list", "hook"]);
    assert!(table.contains("REPLAYED"), "{table}");
    assert_eq!(receiver.count(), 11);

    // The current definition decides: a filter that now drops some letters.
    let (code, answer) = node
        .call(
            reqwest::Method::PUT,
            "/connectors/hook",
            Some(&json!({
                "sink": { "type": "http", "url": receiver.url },
                "filter": { "streams": { "prefixes": ["replay-"] }, "jsonPath": "$[?(@.n > 3)]" }
            })),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    let (code, answer) = node.post(REPLAY, &json!({ "again": true })).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        outcomes(&answer),
        ["dropped", "dropped", "dropped", "delivered", "delivered"],
        "{answer}"
    );
    assert_eq!(answer["results"][0]["stage"], "filter.jsonPath", "{answer}");
    assert_eq!(receiver.numbers()[11..], [4, 5]);

    // Unknown fields are refused; an unknown connector is not found.
    let (code, answer) = node.post(REPLAY, &json!({ "form": 1 })).await;
    assert_eq!(code, 400, "{answer}");
    let (code, answer) = node
        .post("/connectors/nobody/dead-letters/replay", &json!({}))
        .await;
    assert_eq!(code, 404, "{answer}");
}
