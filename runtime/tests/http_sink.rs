//! The HTTP sink against a real HTTP receiver on 127.0.0.1, and the sink
//! settings as the API reads them.

// The helpers below are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use chrono::{TimeZone, Utc};
use connectors::sinks::envelope::envelope;
use connectors::sinks::http::{HttpAuth, HttpBatchConfig, HttpMethod, HttpSink, HttpSinkConfig};
use connectors::sinks::{DeliveryOutcome, RetryNotice, Sink, SinkConfig, SinkContext, REDACTED};
use connectors::store::{ContentType, Position, RecordedEvent};
use serde_json::{json, Value};
use uuid::Uuid;

// ---------------------------------------------------------------- receiver

/// A request as the receiver saw it, with the status it answered.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    status: u16,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no `{name}` header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Misbehaviours, each for the next N requests.
#[derive(Default)]
struct Behaviour {
    unavailable: AtomicUsize,
    too_many: AtomicUsize,
    slow: AtomicUsize,
}

#[derive(Default)]
struct Inner {
    seen: Mutex<Vec<Seen>>,
    behaviour: Behaviour,
}

/// A receiver on 127.0.0.1 that records every request. It answers 200,
/// except: 503 while `unavailable` > 0, 429 with `Retry-After: 1` while
/// `too_many` > 0, 200 after 2 s while `slow` > 0, 400 to bodies containing
/// `REJECT`, 302 to paths containing `redirect`.
struct Receiver {
    base: String,
    inner: Arc<Inner>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener)
    }

    fn serve(listener: tokio::net::TcpListener) -> Receiver {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { base, inner }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    fn accepted(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.status == 200)
            .collect()
    }

    fn fail(&self, counter: impl Fn(&Behaviour) -> &AtomicUsize, times: usize) {
        counter(&self.inner.behaviour).store(times, Ordering::SeqCst);
    }
}

fn take(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

async fn answer(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let behaviour = &inner.behaviour;
    let path = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let (status, response) = if take(&behaviour.unavailable) {
        (
            503,
            (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response(),
        )
    } else if take(&behaviour.too_many) {
        let headers = [("retry-after", "1")];
        (
            429,
            (StatusCode::TOO_MANY_REQUESTS, headers, "slow down").into_response(),
        )
    } else if body.windows(6).any(|w| w == b"REJECT") {
        let text = "refused: the event holds REJECT";
        (400, (StatusCode::BAD_REQUEST, text).into_response())
    } else if path.contains("redirect") {
        let headers = [("location", "/elsewhere")];
        (302, (StatusCode::FOUND, headers).into_response())
    } else {
        if take(&behaviour.slow) {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        (200, StatusCode::OK.into_response())
    };
    inner.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path,
        headers,
        body: body.to_vec(),
        status,
    });
    response
}

// ------------------------------------------------------------------ events

fn event(stream: &str, revision: u64, data: &str) -> RecordedEvent {
    RecordedEvent {
        id: Uuid::from_u128(0xabc00 + u128::from(revision)),
        stream: stream.into(),
        revision,
        position: Position::new(1000 + revision, 1000 + revision),
        event_type: "OrderPlaced".into(),
        content_type: ContentType::Json,
        created: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
            + chrono::Duration::milliseconds(revision as i64),
        data: data.as_bytes().to_vec(),
        metadata: Vec::new(),
    }
}

fn events(n: u64) -> Vec<RecordedEvent> {
    (0..n)
        .map(|i| event("orders-42", i, &format!("{{\"n\":{i}}}")))
        .collect()
}

/// A context that records retry notices.
fn context() -> (SinkContext, Arc<Mutex<Vec<RetryNotice>>>) {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&notices);
    let ctx = SinkContext {
        connector_id: "orders-hook".into(),
        on_retry: Arc::new(move |notice| sink.lock().unwrap().push(notice)),
        stop_at_first_rejection: false,
        destinations: Arc::default(),
    };
    (ctx, notices)
}

/// Settings with tiny back-offs.
fn config(url: String) -> HttpSinkConfig {
    let mut config = HttpSinkConfig::new(url);
    config.retry.initial_backoff_ms = 2;
    config.retry.max_backoff_ms = 10;
    config
}

fn batch_config(url: String) -> HttpSinkConfig {
    let mut config = config(url);
    config.batch = Some(HttpBatchConfig::default());
    config
}

fn sink(config: HttpSinkConfig) -> (HttpSink, Arc<Mutex<Vec<RetryNotice>>>) {
    let (ctx, notices) = context();
    (HttpSink::new(config, ctx).unwrap(), notices)
}

fn rejection(outcome: &DeliveryOutcome) -> &connectors::sinks::Rejection {
    match outcome {
        DeliveryOutcome::Rejected(rejection) => rejection,
        DeliveryOutcome::Delivered => panic!("expected a rejection"),
    }
}

// -------------------------------------------------------------- per event

#[tokio::test]
async fn per_event_headers_and_body() {
    let receiver = Receiver::start().await;
    let mut config = config(receiver.url("/hook"));
    config.headers.insert("X-Source".into(), "tests".into());
    let (mut sink, _) = sink(config);

    let mut first = event("orders-42", 7, "{ \"total\": 12 }");
    first.metadata = br#"{"Tenant":"acme","priority":2,"bad key":"x"}"#.to_vec();
    let mut second = event("orders-42", 8, "");
    second.content_type = ContentType::Binary;
    second.data = vec![0, 1, 2, 255];
    second.event_type = "Blob".into();

    let outcomes = sink.deliver(&[first, second]).await.unwrap();
    assert_eq!(outcomes, vec![DeliveryOutcome::Delivered; 2]);

    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    let one = &seen[0];
    assert_eq!(one.method, "POST");
    assert_eq!(one.path, "/hook");
    assert_eq!(one.body, b"{ \"total\": 12 }");
    assert_eq!(one.header("content-type"), "application/json");
    assert_eq!(
        one.header("esdb-record-id"),
        "00000000-0000-0000-0000-0000000abc07"
    );
    assert_eq!(one.header("esdb-record-stream-id"), "orders-42");
    assert_eq!(one.header("esdb-record-stream-revision"), "7");
    assert_eq!(one.header("esdb-record-log-position"), "1007");
    assert_eq!(
        one.header("esdb-record-timestamp"),
        "2024-05-01T12:00:00.007Z"
    );
    assert_eq!(one.header("esdb-record-schema-subject"), "OrderPlaced");
    assert_eq!(one.header("esdb-connector-id"), "orders-hook");
    assert_eq!(one.header("esdb-record-headers-tenant"), "acme");
    assert_eq!(one.header("esdb-record-headers-priority"), "2");
    assert_eq!(one.header("x-source"), "tests");
    assert!(one.headers.get("authorization").is_none());
    assert!(one.headers.get("esdb-batch-size").is_none());
    let metadata_headers = one
        .headers
        .keys()
        .filter(|k| k.as_str().starts_with("esdb-record-headers-"))
        .count();
    assert_eq!(metadata_headers, 2);

    let two = &seen[1];
    assert_eq!(two.body, [0, 1, 2, 255]);
    assert_eq!(two.header("content-type"), "application/octet-stream");
    assert_eq!(two.header("esdb-record-schema-subject"), "Blob");
    assert_eq!(two.header("esdb-record-stream-revision"), "8");
}

#[tokio::test]
async fn url_templates_are_filled_per_event() {
    let receiver = Receiver::start().await;
    let url = receiver.url("/c/{category}/s/{stream}?type={eventType}");
    let (mut sink, _) = sink(config(url));
    let mut odd = event("in voices/é-1", 1, "{}");
    odd.event_type = "A&B".into();
    let batch = [event("orders-42", 0, "{}"), odd];
    assert_eq!(
        sink.deliver(&batch).await.unwrap(),
        vec![DeliveryOutcome::Delivered; 2]
    );
    let paths: Vec<String> = receiver.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        [
            "/c/orders/s/orders-42?type=OrderPlaced",
            "/c/in%20voices%2F%C3%A9/s/in%20voices%2F%C3%A9-1?type=A%26B",
        ]
    );
}

#[tokio::test]
async fn method_and_auth_headers() {
    let receiver = Receiver::start().await;
    let mut basic = config(receiver.url("/basic"));
    basic.method = HttpMethod::Put;
    basic.auth = Some(HttpAuth::Basic {
        username: "ingest".into(),
        password: "s3cret".into(),
    });
    let mut bearer = config(receiver.url("/bearer"));
    bearer.method = HttpMethod::Patch;
    bearer.auth = Some(HttpAuth::Bearer {
        token: "tok-123".into(),
    });
    sink(basic).0.deliver(&events(1)).await.unwrap();
    sink(bearer).0.deliver(&events(1)).await.unwrap();
    let seen = receiver.seen();
    let expected = base64::engine::general_purpose::STANDARD.encode("ingest:s3cret");
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(seen[0].header("authorization"), format!("Basic {expected}"));
    assert_eq!(seen[1].method, "PATCH");
    assert_eq!(seen[1].header("authorization"), "Bearer tok-123");
}

#[tokio::test]
async fn per_event_batch_limits() {
    let (sink, _) = sink(config("http://127.0.0.1:9/x".into()));
    let limits = sink.batch_limits();
    assert_eq!(limits.max_events, 32);
    assert_eq!(limits.linger, Duration::ZERO);
}

// ------------------------------------------------------------------ batch

#[tokio::test]
async fn batch_mode_sends_an_array_of_envelopes() {
    let receiver = Receiver::start().await;
    let mut config = batch_config(receiver.url("/batch"));
    config.batch = Some(HttpBatchConfig {
        max_events: 3,
        max_bytes: 4096,
        linger_ms: 7,
    });
    let (mut sink, _) = sink(config);
    let limits = sink.batch_limits();
    assert_eq!((limits.max_events, limits.max_bytes), (3, 4096));
    assert_eq!(limits.linger, Duration::from_millis(7));

    let mut batch = events(3);
    batch[1].metadata = br#"{"user":"ann"}"#.to_vec();
    batch[2].content_type = ContentType::Binary;
    assert_eq!(
        sink.deliver(&batch).await.unwrap(),
        vec![DeliveryOutcome::Delivered; 3]
    );

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("content-type"), "application/json");
    assert_eq!(seen[0].header("esdb-batch-size"), "3");
    assert_eq!(seen[0].header("esdb-connector-id"), "orders-hook");
    assert!(seen[0].headers.get("esdb-record-id").is_none());
    let expected: Vec<Value> = batch.iter().map(envelope).collect();
    assert_eq!(seen[0].json(), Value::Array(expected));
    assert_eq!(seen[0].json()[1]["metadata"], json!({"user": "ann"}));
    assert!(seen[0].json()[2].get("dataBase64").is_some());
}

#[tokio::test]
async fn batch_with_a_bad_event_is_split_until_only_it_is_rejected() {
    let receiver = Receiver::start().await;
    let (mut sink, notices) = sink(batch_config(receiver.url("/batch")));
    let mut batch = events(7);
    batch[4].data = br#"{"note":"REJECT"}"#.to_vec();

    let outcomes = sink.deliver(&batch).await.unwrap();
    for (i, outcome) in outcomes.iter().enumerate() {
        if i == 4 {
            let rejection = rejection(outcome);
            assert_eq!(rejection.status, Some(400));
            assert!(rejection.response.as_deref().unwrap().contains("REJECT"));
        } else {
            assert_eq!(outcome, &DeliveryOutcome::Delivered, "event {i}");
        }
    }
    assert!(notices.lock().unwrap().is_empty());

    // The accepted requests carried every other event once, in order.
    let delivered: Vec<u64> = receiver
        .accepted()
        .iter()
        .flat_map(|s| {
            let batch = s.json();
            let size: usize = s.header("esdb-batch-size").parse().unwrap();
            assert_eq!(batch.as_array().unwrap().len(), size);
            batch
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["revision"].as_u64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(delivered, [0, 1, 2, 3, 5, 6]);
}

#[tokio::test]
async fn cloud_events_binary_mode() {
    let receiver = Receiver::start().await;
    let mut config = config(receiver.url("/ce"));
    config.cloud_events = true;
    let (mut sink, _) = sink(config);
    let mut one = event("orders-42", 3, "{\"a\":1}");
    one.metadata = br#"{"tenant":"acme"}"#.to_vec();
    sink.deliver(&[one]).await.unwrap();

    let seen = &receiver.seen()[0];
    assert_eq!(seen.body, b"{\"a\":1}");
    assert_eq!(seen.header("content-type"), "application/json");
    assert_eq!(seen.header("ce-specversion"), "1.0");
    assert_eq!(seen.header("ce-id"), "00000000-0000-0000-0000-0000000abc03");
    assert_eq!(seen.header("ce-source"), "kurrentdb:/streams/orders-42");
    assert_eq!(seen.header("ce-type"), "OrderPlaced");
    assert_eq!(seen.header("ce-subject"), "orders-42");
    assert_eq!(seen.header("ce-time"), "2024-05-01T12:00:00.003Z");
    assert_eq!(seen.header("ce-streamrevision"), "3");
    assert_eq!(seen.header("ce-logposition"), "1003");
    assert_eq!(seen.header("esdb-connector-id"), "orders-hook");
    assert_eq!(seen.header("esdb-record-headers-tenant"), "acme");
    assert!(seen.headers.get("esdb-record-id").is_none());
}

#[tokio::test]
async fn cloud_events_batch_mode() {
    let receiver = Receiver::start().await;
    let mut config = batch_config(receiver.url("/ce"));
    config.cloud_events = true;
    let (mut sink, _) = sink(config);
    let mut batch = events(2);
    batch[1].content_type = ContentType::Binary;
    batch[1].data = vec![1, 2];
    sink.deliver(&batch).await.unwrap();

    let seen = &receiver.seen()[0];
    assert_eq!(
        seen.header("content-type"),
        "application/cloudevents-batch+json"
    );
    assert_eq!(seen.header("esdb-batch-size"), "2");
    assert_eq!(
        seen.json(),
        json!([
            {
                "specversion": "1.0",
                "id": "00000000-0000-0000-0000-0000000abc00",
                "source": "kurrentdb:/streams/orders-42",
                "type": "OrderPlaced",
                "subject": "orders-42",
                "time": "2024-05-01T12:00:00.000Z",
                "datacontenttype": "application/json",
                "data": {"n": 0},
                "streamrevision": "0",
                "logposition": "1000",
            },
            {
                "specversion": "1.0",
                "id": "00000000-0000-0000-0000-0000000abc01",
                "source": "kurrentdb:/streams/orders-42",
                "type": "OrderPlaced",
                "subject": "orders-42",
                "time": "2024-05-01T12:00:00.001Z",
                "datacontenttype": "application/octet-stream",
                "data_base64": "AQI=",
                "streamrevision": "1",
                "logposition": "1001",
            },
        ])
    );
}

// --------------------------------------------------------------- failures

#[tokio::test]
async fn unavailable_is_retried_and_delivered_once_in_order() {
    let receiver = Receiver::start().await;
    receiver.fail(|b| &b.unavailable, 2);
    let (mut sink, notices) = sink(config(receiver.url("/hook")));
    let outcomes = sink.deliver(&events(3)).await.unwrap();
    assert_eq!(outcomes, vec![DeliveryOutcome::Delivered; 3]);

    let notices = notices.lock().unwrap().clone();
    assert_eq!(
        notices.iter().map(|n| n.attempt).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(
        notices[0].error.contains("HTTP 503 Service Unavailable"),
        "{}",
        notices[0].error
    );
    assert!(
        notices[0].error.contains("down for maintenance"),
        "{}",
        notices[0].error
    );
    assert!(notices.iter().all(|n| n.wait <= Duration::from_millis(10)));

    let seen = receiver.seen();
    assert_eq!(seen.len(), 5);
    let bodies: Vec<String> = receiver
        .accepted()
        .iter()
        .map(|s| String::from_utf8(s.body.clone()).unwrap())
        .collect();
    assert_eq!(bodies, [r#"{"n":0}"#, r#"{"n":1}"#, r#"{"n":2}"#]);
}

#[tokio::test]
async fn a_refused_event_is_rejected_and_the_others_delivered() {
    let receiver = Receiver::start().await;
    let (mut sink, notices) = sink(config(receiver.url("/hook")));
    let mut batch = events(3);
    batch[1].data = br#"{"x":"REJECT"}"#.to_vec();
    let outcomes = sink.deliver(&batch).await.unwrap();
    assert_eq!(outcomes[0], DeliveryOutcome::Delivered);
    assert_eq!(outcomes[2], DeliveryOutcome::Delivered);
    let rejection = rejection(&outcomes[1]);
    assert_eq!(rejection.status, Some(400));
    assert_eq!(
        rejection.response.as_deref(),
        Some("refused: the event holds REJECT")
    );
    assert!(
        rejection.reason.starts_with(&format!(
            "HTTP 400 Bad Request from POST {}",
            receiver.url("/hook")
        )),
        "{}",
        rejection.reason
    );
    assert!(notices.lock().unwrap().is_empty());
    assert_eq!(receiver.seen().len(), 3);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let receiver = Receiver::start().await;
    let (mut sink, _) = sink(config(receiver.url("/redirect")));
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    assert_eq!(rejection(&outcomes[0]).status, Some(302));
    assert_eq!(receiver.seen().len(), 1);
}

#[tokio::test]
async fn exhausted_attempts_reject_with_the_last_error() {
    let receiver = Receiver::start().await;
    receiver.fail(|b| &b.unavailable, 100);
    let mut per_event = config(receiver.url("/hook"));
    per_event.retry.max_attempts = Some(3);
    let (mut sink, notices) = sink(per_event);
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    let rejection = rejection(&outcomes[0]);
    assert_eq!(rejection.status, Some(503));
    assert!(
        rejection
            .reason
            .starts_with("gave up after 3 attempts: HTTP 503"),
        "{}",
        rejection.reason
    );
    assert_eq!(rejection.response.as_deref(), Some("down for maintenance"));
    assert_eq!(receiver.seen().len(), 3);
    assert_eq!(notices.lock().unwrap().len(), 2);

    // In batch mode the whole batch is rejected, without splitting.
    let mut batched = batch_config(receiver.url("/batch"));
    batched.retry.max_attempts = Some(2);
    let (mut sink, _) = self::sink(batched);
    let outcomes = sink.deliver(&events(4)).await.unwrap();
    assert!(outcomes.iter().all(|o| rejection_status(o) == Some(503)));
    assert_eq!(receiver.seen().len(), 5);
}

fn rejection_status(outcome: &DeliveryOutcome) -> Option<u16> {
    rejection(outcome).status
}

#[tokio::test]
async fn connection_refused_is_retried() {
    // A port nobody listens on (yet).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{address}/x");

    let mut limited = config(url.clone());
    limited.retry.max_attempts = Some(3);
    let (mut sink, notices) = sink(limited);
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    let rejection = rejection(&outcomes[0]);
    assert_eq!(rejection.status, None);
    assert!(
        rejection
            .reason
            .starts_with(&format!("gave up after 3 attempts: POST {url} failed: ")),
        "{}",
        rejection.reason
    );
    assert!(
        rejection.reason.to_lowercase().contains("connect"),
        "{}",
        rejection.reason
    );
    assert_eq!(notices.lock().unwrap().len(), 2);

    // Without a limit the sink keeps trying until the receiver is up.
    let (mut sink, notices) = self::sink(config(url));
    let starter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        Receiver::serve(listener)
    });
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    assert_eq!(outcomes, [DeliveryOutcome::Delivered]);
    assert!(!notices.lock().unwrap().is_empty());
    assert_eq!(starter.await.unwrap().accepted().len(), 1);
}

#[tokio::test]
async fn timeouts_are_retried() {
    let receiver = Receiver::start().await;
    receiver.fail(|b| &b.slow, 1);
    let mut config = config(receiver.url("/hook"));
    config.timeout_ms = 200;
    let (mut sink, notices) = sink(config);
    let started = Instant::now();
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    assert_eq!(outcomes, [DeliveryOutcome::Delivered]);
    assert!(started.elapsed() < Duration::from_secs(2));
    let notices = notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].error.contains("timed out after 200 ms"),
        "{}",
        notices[0].error
    );
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let receiver = Receiver::start().await;
    receiver.fail(|b| &b.too_many, 1);
    let (mut sink, notices) = sink(config(receiver.url("/hook")));
    let started = Instant::now();
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    assert_eq!(outcomes, [DeliveryOutcome::Delivered]);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let notices = notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].wait, Duration::from_secs(1));
    assert!(
        notices[0].error.contains("HTTP 429"),
        "{}",
        notices[0].error
    );
}

// --------------------------------------------------------------- settings

fn sink_config(json: Value) -> Result<SinkConfig, String> {
    serde_json::from_value(json).map_err(|e| e.to_string())
}

fn config_error(json: Value) -> connectors::sinks::ConfigError {
    let text = json.to_string();
    let config = sink_config(json).unwrap();
    config
        .validate()
        .err()
        .unwrap_or_else(|| panic!("{text} validated"))
}

#[test]
fn settings_are_tagged_by_type() {
    let console = sink_config(json!({"type": "console", "format": "json"})).unwrap();
    assert!(matches!(console, SinkConfig::Console(_)));
    assert_eq!(console.validate(), Ok(()));

    let http = sink_config(json!({
        "type": "http",
        "url": "https://example.com/hook",
        "method": "PUT",
        "headers": {"x-source": "orders"},
        "auth": {"type": "bearer", "token": "t"},
        "timeoutMs": 5000,
        "batch": {"maxEvents": 10},
        "cloudEvents": true,
        "retry": {"initialBackoffMs": 5, "maxAttempts": 4},
    }))
    .unwrap();
    assert_eq!(http.validate(), Ok(()));
    let SinkConfig::Http(http) = http else {
        panic!("not http")
    };
    assert_eq!(http.method, HttpMethod::Put);
    assert_eq!(http.batch.as_ref().unwrap().max_bytes, 1024 * 1024);
    assert_eq!(http.batch.as_ref().unwrap().linger_ms, 50);
    assert_eq!(http.retry.max_backoff_ms, 30_000);
    assert_eq!(http.retry.max_attempts, Some(4));

    let plain = sink_config(json!({"type": "http", "url": "http://h/x"})).unwrap();
    let SinkConfig::Http(plain) = plain else {
        panic!("not http")
    };
    assert_eq!(plain, HttpSinkConfig::new("http://h/x"));
    assert_eq!(plain.timeout_ms, 10_000);
    assert!(!plain.cloud_events && plain.batch.is_none());

    // Round trip.
    let text = serde_json::to_value(SinkConfig::Http(http.clone())).unwrap();
    assert_eq!(text["type"], "http");
    assert_eq!(sink_config(text).unwrap(), SinkConfig::Http(http));
}

#[test]
fn unknown_fields_are_named() {
    let error =
        sink_config(json!({"type": "http", "url": "http://h/x", "timeout": 5})).unwrap_err();
    assert!(error.contains("unknown field `timeout`"), "{error}");
    let error = sink_config(json!({"type": "console", "colour": true})).unwrap_err();
    assert!(error.contains("unknown field `colour`"), "{error}");
    let error = sink_config(json!({"type": "http", "url": "http://h/x", "batch": {"size": 1}}))
        .unwrap_err();
    assert!(error.contains("unknown field `size`"), "{error}");
    let error = sink_config(json!({
        "type": "http", "url": "http://h/x",
        "auth": {"type": "bearer", "token": "t", "scheme": "x"},
    }))
    .unwrap_err();
    assert!(error.contains("unknown field `scheme`"), "{error}");
    let error = sink_config(json!({"type": "kafka"})).unwrap_err();
    assert!(error.contains("unknown variant `kafka`"), "{error}");
    let error = sink_config(json!({"type": "http"})).unwrap_err();
    assert!(error.contains("missing field `url`"), "{error}");
}

#[test]
fn bad_settings_name_the_field_with_an_example() {
    for url in [
        "not a url",
        "ftp://example.com/x",
        "/relative/path",
        "https://",
        "mailto:a@example.com",
    ] {
        let error = config_error(json!({"type": "http", "url": url}));
        assert_eq!(error.field, "sink.url", "{url}");
        assert!(
            error.message.contains("e.g. `https://example.com/hook`"),
            "{error}"
        );
    }
    let error = config_error(json!({"type": "http", "url": "https://u:p@example.com/x"}));
    assert!(error.message.contains("credentials"), "{error}");
    let error = config_error(json!({"type": "http", "url": "https://{stream}.example.com/x"}));
    assert!(error.message.contains("path and query"), "{error}");
    let error = config_error(json!({"type": "http", "url": "https://example.com/{streamName}"}));
    assert!(
        error.message.contains("unknown template `{streamName}`"),
        "{error}"
    );

    let error = config_error(json!({
        "type": "http", "url": "https://example.com/{stream}", "batch": {},
    }));
    assert_eq!(error.field, "sink.url");
    assert!(error.message.contains("batch mode"), "{error}");

    let zero_events = json!({"type": "http", "url": "http://h/x", "batch": {"maxEvents": 0}});
    assert_eq!(config_error(zero_events).field, "sink.batch.maxEvents");
    let zero_bytes = json!({"type": "http", "url": "http://h/x", "batch": {"maxBytes": 0}});
    assert_eq!(config_error(zero_bytes).field, "sink.batch.maxBytes");
    let zero_timeout = json!({"type": "http", "url": "http://h/x", "timeoutMs": 0});
    assert_eq!(config_error(zero_timeout).field, "sink.timeoutMs");
    let bad_retry = json!({"type": "http", "url": "http://h/x", "retry": {"maxAttempts": 0}});
    assert_eq!(config_error(bad_retry).field, "sink.retry.maxAttempts");
    let bad_header = json!({"type": "http", "url": "http://h/x", "headers": {"bad name": "x"}});
    assert_eq!(config_error(bad_header).field, "sink.headers.bad name");
    let bad_value = json!({"type": "http", "url": "http://h/x", "headers": {"x-a": "a\nb"}});
    assert_eq!(config_error(bad_value).field, "sink.headers.x-a");
    let reserved = json!({"type": "http", "url": "http://h/x", "headers": {"Content-Type": "x"}});
    assert_eq!(config_error(reserved).field, "sink.headers.Content-Type");
    let username = json!({
        "type": "http", "url": "http://h/x",
        "auth": {"type": "basic", "username": "a:b", "password": "p"},
    });
    assert_eq!(config_error(username).field, "sink.auth.username");

    // The sink refuses to build from settings that do not validate.
    let mut bad = HttpSinkConfig::new("nope");
    bad.timeout_ms = 1;
    let error = HttpSink::new(bad, SinkContext::detached("c"))
        .err()
        .unwrap();
    assert_eq!(error.field, "sink.url");
    assert_eq!(error.to_string(), format!("`sink.url` {}", error.message));
}

#[test]
fn secrets_are_redacted_and_kept() {
    let stored = sink_config(json!({
        "type": "http",
        "url": "https://example.com/hook",
        "headers": {"x-api-key": "k-1", "x-source": "orders"},
        "auth": {"type": "basic", "username": "ingest", "password": "s3cret"},
    }))
    .unwrap();

    let shown = stored.redacted();
    let text = serde_json::to_string(&shown).unwrap();
    assert!(!text.contains("s3cret") && !text.contains("k-1"), "{text}");
    let shown_json = serde_json::to_value(&shown).unwrap();
    assert_eq!(shown_json["auth"]["password"], REDACTED);
    assert_eq!(shown_json["auth"]["username"], "ingest");
    assert_eq!(shown_json["headers"]["x-api-key"], REDACTED);
    assert_eq!(shown_json["headers"]["x-source"], "orders");
    assert!(!format!("{stored:?}").contains("s3cret"));

    // A redacted secret sent back cannot be used on its own...
    assert_eq!(
        shown.validate().unwrap_err().field,
        "sink.headers.x-api-key"
    );
    // ...but is restored from the stored settings.
    let mut updated = shown.clone();
    updated.keep_secrets_from(&stored).unwrap();
    assert_eq!(updated, stored);
    assert_eq!(updated.validate(), Ok(()));

    // A new secret replaces the old one.
    let mut changed = sink_config(json!({
        "type": "http", "url": "https://example.com/hook",
        "auth": {"type": "basic", "username": "ingest", "password": "new"},
    }))
    .unwrap();
    changed.keep_secrets_from(&stored).unwrap();
    let SinkConfig::Http(changed) = changed else {
        panic!("not http")
    };
    assert_eq!(
        changed.auth,
        Some(HttpAuth::Basic {
            username: "ingest".into(),
            password: "new".into()
        })
    );

    // Bearer tokens too.
    let bearer = sink_config(json!({
        "type": "http", "url": "https://example.com/hook",
        "auth": {"type": "bearer", "token": "tok"},
    }))
    .unwrap();
    let mut back = bearer.redacted();
    assert_eq!(
        serde_json::to_value(&back).unwrap()["auth"]["token"],
        REDACTED
    );
    assert_eq!(back.validate().unwrap_err().field, "sink.auth.token");
    back.keep_secrets_from(&bearer).unwrap();
    assert_eq!(back, bearer);
}

fn stopping_sink(config: HttpSinkConfig) -> HttpSink {
    let (mut ctx, _) = context();
    ctx.stop_at_first_rejection = true;
    HttpSink::new(config, ctx).unwrap()
}

#[tokio::test]
async fn stop_at_first_rejection_sends_nothing_after_it() {
    let receiver = Receiver::start().await;
    let mut sink = stopping_sink(config(receiver.url("/hook")));
    let mut batch = events(4);
    batch[1].data = br#"{"x":"REJECT"}"#.to_vec();
    let outcomes = sink.deliver(&batch).await.unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(outcomes[0], DeliveryOutcome::Delivered);
    assert_eq!(rejection(&outcomes[1]).status, Some(400));
    assert_eq!(
        receiver.seen().len(),
        2,
        "events after the refused one are not sent"
    );

    let receiver = Receiver::start().await;
    let mut sink = stopping_sink(batch_config(receiver.url("/hook")));
    let mut batch = events(8);
    batch[5].data = br#"{"x":"REJECT"}"#.to_vec();
    let outcomes = sink.deliver(&batch).await.unwrap();
    assert_eq!(outcomes.len(), 6, "{outcomes:?}");
    assert!(outcomes[..5]
        .iter()
        .all(|o| *o == DeliveryOutcome::Delivered));
    assert_eq!(rejection(&outcomes[5]).status, Some(400));
    let delivered: Vec<u64> = receiver
        .seen()
        .iter()
        .filter(|s| s.status == 200)
        .flat_map(|s| serde_json::from_slice::<Vec<Value>>(&s.body).unwrap())
        .map(|e| e["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(
        delivered,
        vec![0, 1, 2, 3, 4],
        "only the events before the refused one"
    );
}
