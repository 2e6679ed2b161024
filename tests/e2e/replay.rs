//! Dead-letter replay with the real binary and a real receiver: events the
//! receiver refused are dead-lettered, then replayed through the current
//! definition once it accepts them, in their original order; the outcome
//! of each replay is kept, so a second replay skips what was delivered.
//! One replay of a connector runs at a time: a second one is refused while
//! the first is held up by its destination, and others are not.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use crate::support::{event, eventually, NodeProcess, Receiver};

const REPLAY: &str = "/connectors/hook/dead-letters/replay";
const HELD_REPLAY: &str = "/connectors/held/dead-letters/replay";

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

/// What the [`GateReceiver`] does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Answers 400, so the events are dead-lettered.
    Refuse,
    /// Reports the request, then keeps it waiting until the gate changes.
    Hold,
    /// Answers 200.
    Accept,
}

#[derive(Clone)]
struct GateState {
    gate: watch::Receiver<Gate>,
    arrived: mpsc::UnboundedSender<()>,
    accepted: Arc<AtomicUsize>,
}

/// A receiver on loopback whose answers a test opens and closes like a
/// gate, to hold a replay's request open.
struct GateReceiver {
    url: String,
    gate: watch::Sender<Gate>,
    /// One message per request that arrived while the gate held.
    arrived: mpsc::UnboundedReceiver<()>,
    accepted: Arc<AtomicUsize>,
}

impl GateReceiver {
    async fn start(gate: Gate) -> Self {
        let (gate, gate_seen) = watch::channel(gate);
        let (arrival, arrived) = mpsc::unbounded_channel();
        let accepted = Arc::new(AtomicUsize::new(0));
        let app = Router::new().fallback(answer).with_state(GateState {
            gate: gate_seen,
            arrived: arrival,
            accepted: Arc::clone(&accepted),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            gate,
            arrived,
            accepted,
        }
    }

    fn set(&self, gate: Gate) {
        self.gate.send_replace(gate);
    }

    /// Waits until a request arrives while the gate holds.
    async fn held_request(&mut self) {
        tokio::time::timeout(Duration::from_secs(60), self.arrived.recv())
            .await
            .expect("a request reaches the receiver within a minute")
            .expect("the receiver runs");
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn answer(State(mut state): State<GateState>) -> StatusCode {
    let gate = *state.gate.borrow_and_update();
    if gate == Gate::Hold {
        let _ = state.arrived.send(());
        if state.gate.wait_for(|g| *g != Gate::Hold).await.is_err() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    if *state.gate.borrow() == Gate::Refuse {
        return StatusCode::BAD_REQUEST;
    }
    state.accepted.fetch_add(1, Ordering::SeqCst);
    StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replay_of_a_connector_at_a_time_while_others_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let other = dead_lettered_hook(&node, 1).await;

    // A connector `held` whose two events were refused.
    let mut receiver = GateReceiver::start(Gate::Refuse).await;
    node.append(
        "held-1",
        &[
            event("Numbered", json!({ "n": 1 })),
            event("Numbered", json!({ "n": 2 })),
        ],
    )
    .await;
    node.create_connector(
        "held",
        json!({
            "sink": { "type": "http", "url": receiver.url, "timeoutMs": 300000 },
            "filter": { "streams": { "prefixes": ["held-"] } }
        }),
    )
    .await;
    eventually(
        Duration::from_secs(60),
        "both events to be dead-lettered",
        || async { (node.status("held").await["deadLettered"] == 2).then_some(()) },
    )
    .await;

    // The first replay is held up by its destination.
    receiver.set(Gate::Hold);
    let first = tokio::spawn({
        let request = replay_request(&node, json!({}));
        async move {
            let response = request.send().await.expect("the first replay");
            let status = response.status().as_u16();
            let answer: Value = response.json().await.expect("a JSON answer");
            (status, answer)
        }
    });
    receiver.held_request().await;

    // A second replay of the same connector is refused at once (were it
    // let in, it would wait at the gate too: the guard turns that into a
    // failure rather than a hang).
    let everything = json!({});
    let second = node.post(HELD_REPLAY, &everything);
    let (code, answer) = tokio::time::timeout(Duration::from_secs(60), second)
        .await
        .expect("the second replay is answered, not held behind the first");
    assert_eq!(code, 409, "{answer}");
    assert_eq!(answer["code"], "replay-running", "{answer}");
    let message = answer["message"].as_str().expect("a message");
    assert!(
        message.contains("`held`") && message.contains("retry"),
        "{message}"
    );

    // Another connector's replay goes on.
    let (code, answer) = node.post(REPLAY, &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(outcomes(&answer), ["delivered"], "{answer}");
    assert_eq!(other.numbers(), [1]);

    // The first replay ends with every letter delivered once.
    receiver.set(Gate::Accept);
    let (code, answer) = first.await.expect("the first replay's task");
    assert_eq!(code, 200, "{answer}");
    assert_eq!(outcomes(&answer), ["delivered"; 2], "{answer}");
    assert_eq!(receiver.accepted(), 2);

    // Then a replay of it is accepted again.
    let (code, answer) = node.post(HELD_REPLAY, &json!({ "again": true })).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(outcomes(&answer), ["delivered"; 2], "{answer}");
    assert_eq!(receiver.accepted(), 4);

    // A replay whose client goes away mid-request gives its place back.
    // A replay of a range without letters reaches no destination, so it
    // shows whether the place is free without waiting at the gate.
    let no_letters = json!({ "from": 1000 });
    receiver.set(Gate::Hold);
    let abandoned = tokio::spawn(replay_request(&node, json!({ "again": true })).send());
    receiver.held_request().await;
    let (code, answer) = node.post(HELD_REPLAY, &no_letters).await;
    assert_eq!(code, 409, "{answer}");
    abandoned.abort();
    eventually(
        Duration::from_secs(60),
        "the abandoned replay to give its place back",
        || async { (node.post(HELD_REPLAY, &no_letters).await.0 == 200).then_some(()) },
    )
    .await;
    receiver.set(Gate::Accept);
}

/// A replay of connector `held` with `body`, ready to send.
fn replay_request(node: &NodeProcess, body: Value) -> reqwest::RequestBuilder {
    node.client
        .post(node.url(HELD_REPLAY))
        .header("content-type", "application/json")
        .body(body.to_string())
}
