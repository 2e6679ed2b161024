//! Refusals that must stop a connector instead of settling events one by
//! one: refused credentials, a refused event with `onFailure: fault` in a
//! custom sink, a dead letter that cannot be written. And a stream name
//! that would move a templated request to another path.

use std::sync::Arc;
use std::time::Duration;

use connectors::store::kurrent::KurrentStore;
use connectors::store::{EventStore, ExpectedRevision, NewEvent};
use serde_json::{json, Value};

use crate::support::{event, eventually, free_port, status_message, NodeProcess, Receiver};

fn numbered(n: u64) -> Value {
    event("Numbered", json!({ "n": n }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_fault_the_connector_instead_of_dead_lettering_the_backlog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    receiver.fail_all(Some(401));
    node.append("cred-1", &(1..=20).map(numbered).collect::<Vec<_>>())
        .await;
    node.create_connector(
        "cred",
        json!({
            "sink": { "type": "http", "url": receiver.url },
            "filter": { "streams": { "prefixes": ["cred-"] } }
        }),
    )
    .await;
    let status = node.wait_faulted("cred").await;
    let message = status_message(&status);
    assert!(message.contains("401"), "{message}");
    assert!(message.contains("onStatus"), "{message}");
    assert_eq!(status["deadLettered"], 0, "{status}");
    assert_eq!(
        receiver.refused(),
        1,
        "one request, then the connector stopped"
    );
    assert!(node
        .read_stream("$connectors/cred/dead-letters")
        .await
        .is_empty());

    // Once the credentials work again, enabling delivers the whole backlog.
    receiver.fail_all(None);
    let (code, body) = node.post("/connectors/cred/enable", &json!({})).await;
    assert_eq!(code, 200, "{body}");
    receiver
        .wait_for_distinct(20, Duration::from_secs(60), "the backlog")
        .await;
    assert_eq!(receiver.numbers()[..20], (1..=20).collect::<Vec<_>>()[..]);

    // `onStatus` can make 401 an ordinary refusal: dead-lettered, per event.
    receiver.fail_all(Some(401));
    node.create_connector(
        "cred-tolerant",
        json!({
            "sink": { "type": "http", "url": receiver.url, "onStatus": { "401": "reject" } },
            "filter": { "streams": { "prefixes": ["cred-"] } }
        }),
    )
    .await;
    eventually(
        Duration::from_secs(60),
        "every event to be dead-lettered",
        || async {
            let status = node.status("cred-tolerant").await;
            (status["deadLettered"] == 20).then_some(())
        },
    )
    .await;
    assert_eq!(node.status("cred-tolerant").await["state"], "running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_status_is_checked_when_the_connector_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let (code, body) = node
        .post(
            "/connectors/bad",
            &json!({ "sink": { "type": "http", "url": "http://127.0.0.1:9/x", "onStatus": { "4o4": "reject" } } }),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("sink.onStatus.4o4"), "{message}");
    let (code, body) = node
        .post(
            "/connectors/bad",
            &json!({ "sink": { "type": "http", "url": "http://127.0.0.1:9/x", "onStatus": { "404": "ignore" } } }),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("deliver"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_sink_sends_nothing_after_an_event_that_faults_its_connector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    node.upload_example("webhook-hmac").await;
    let receiver = Receiver::start().await;
    let events: Vec<Value> = (1..=6).map(numbered).collect();
    let refused_id = events[2]["eventId"].as_str().expect("id").to_owned();
    receiver.reject_id(&refused_id);
    // One append, so the events reach the sink in one batch.
    node.append("strict-1", &events).await;
    node.create_connector(
        "strict",
        json!({
            "sink": {
                "type": "wasm",
                "module": "webhook-hmac",
                "config": { "url": format!("{}/strict", receiver.url), "secret": "s" },
                "allowHosts": [receiver.url.trim_start_matches("http://")]
            },
            "filter": { "streams": { "prefixes": ["strict-"] } },
            "onFailure": "fault"
        }),
    )
    .await;
    let status = node.wait_faulted("strict").await;
    assert!(status_message(&status).contains(&refused_id), "{status}");
    assert_eq!(
        receiver.numbers(),
        vec![1, 2],
        "the events before the refused one, and none after it"
    );
    assert_eq!(receiver.refused(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_named_dot_dot_never_moves_a_templated_request_to_another_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    node.append("..-1", &[numbered(1)]).await;
    node.append("fine-1", &[numbered(2)]).await;
    node.create_connector(
        "paths",
        json!({
            "sink": { "type": "http", "url": format!("{}/hooks/{{category}}/in", receiver.url) },
            "filter": { "streams": { "regex": "^(\\.\\.|fine)-" } }
        }),
    )
    .await;
    receiver
        .wait_for_distinct(1, Duration::from_secs(30), "the fine event")
        .await;
    let paths: Vec<String> = receiver.accepted().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, vec!["/hooks/fine/in".to_owned()]);
    let letters = eventually(Duration::from_secs(30), "the dead letter", || async {
        let letters = node.read_stream("$connectors/paths/dead-letters").await;
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    let reason = letters[0]["data"]["reason"].as_str().expect("reason");
    assert!(reason.contains("`..`"), "{reason}");
    assert_eq!(letters[0]["data"]["event"]["stream"], "..-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_that_can_never_be_written_faults_the_connector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grpc_port = free_port();
    let node = NodeProcess::start_with_args(
        dir.path(),
        &["--grpc-listen".into(), format!("127.0.0.1:{grpc_port}")],
    )
    .await;
    // The dead-letter stream is deleted for good before anything is refused.
    let store: Arc<dyn EventStore> = Arc::new(
        KurrentStore::connect(&format!("esdb://127.0.0.1:{grpc_port}?tls=false"))
            .expect("connection string"),
    );
    let dead_letters = "$connectors/doomed/dead-letters";
    store
        .append(
            dead_letters,
            ExpectedRevision::Any,
            vec![NewEvent::json("Placeholder", &json!({}))],
        )
        .await
        .expect("append");
    store
        .tombstone_stream(dead_letters, ExpectedRevision::Any)
        .await
        .expect("tombstone");
    let receiver = Receiver::start().await;
    receiver.fail_all(Some(400));
    node.append("doomed-1", &[numbered(1), numbered(2)]).await;
    node.create_connector(
        "doomed",
        json!({
            "sink": { "type": "http", "url": receiver.url },
            "filter": { "streams": { "prefixes": ["doomed-"] } }
        }),
    )
    .await;
    let status = node.wait_faulted("doomed").await;
    let message = status_message(&status);
    assert!(
        message.contains("could not write the dead letter"),
        "{message}"
    );
    assert!(message.contains("deleted"), "{message}");
    assert_eq!(status["deadLettered"], 0, "{status}");
}
