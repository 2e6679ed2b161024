//! A receiver on 127.0.0.1 that records what it got and can be told to
//! misbehave, events, and sinks with tiny back-offs.

// The helpers below are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{TimeZone, Utc};
use connectors::sinks::http::{HttpBatchConfig, HttpSink, HttpSinkConfig};
use connectors::sinks::{DeliveryOutcome, RetryNotice, SinkContext};
use connectors::store::{ContentType, Position, RecordedEvent};
use serde_json::Value;
use uuid::Uuid;

// ---------------------------------------------------------------- receiver

/// A request as the receiver saw it, with the status it answered.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub status: u16,
}

impl Seen {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no `{name}` header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Misbehaviours, each for the next N requests.
#[derive(Default)]
pub struct Behaviour {
    pub unavailable: AtomicUsize,
    pub too_many: AtomicUsize,
    pub slow: AtomicUsize,
}

#[derive(Default)]
pub struct Inner {
    pub seen: Mutex<Vec<Seen>>,
    pub behaviour: Behaviour,
}

/// A receiver on 127.0.0.1 that records every request. It answers 200,
/// except: 503 while `unavailable` > 0, 429 with `Retry-After: 1` while
/// `too_many` > 0, 200 after 2 s while `slow` > 0, 400 to bodies containing
/// `REJECT`, 302 to paths containing `redirect`.
pub struct Receiver {
    pub base: String,
    pub inner: Arc<Inner>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener)
    }

    pub fn serve(listener: tokio::net::TcpListener) -> Receiver {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { base, inner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    pub fn accepted(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.status == 200)
            .collect()
    }

    pub fn fail(&self, counter: impl Fn(&Behaviour) -> &AtomicUsize, times: usize) {
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

pub fn event(stream: &str, revision: u64, data: &str) -> RecordedEvent {
    RecordedEvent {
        id: Uuid::from_u128(0xabc00 + u128::from(revision)),
        stream: stream.into(),
        revision,
        position: Position::new(1000 + revision, 1000 + revision),
        event_type: "OrderPlaced".into(),
        content_type: ContentType::Json,
        created: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
            + chrono::Duration::milliseconds(revision as i64),
        data: data.as_bytes().to_vec().into(),
        metadata: Default::default(),
    }
}

pub fn events(n: u64) -> Vec<RecordedEvent> {
    (0..n)
        .map(|i| event("orders-42", i, &format!("{{\"n\":{i}}}")))
        .collect()
}

/// A context that records retry notices.
pub fn context() -> (SinkContext, Arc<Mutex<Vec<RetryNotice>>>) {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&notices);
    let ctx = SinkContext {
        connector_id: "orders-hook".into(),
        on_retry: Arc::new(move |notice| sink.lock().unwrap().push(notice)),
        stop_at_first_rejection: false,
        destinations: Arc::default(),
        owner: None,
        metrics: connectors::metrics::SinkMetrics::detached(),
    };
    (ctx, notices)
}

/// Settings with tiny back-offs.
pub fn config(url: String) -> HttpSinkConfig {
    let mut config = HttpSinkConfig::new(url);
    config.retry.initial_backoff_ms = 2;
    config.retry.max_backoff_ms = 10;
    config
}

pub fn batch_config(url: String) -> HttpSinkConfig {
    let mut config = config(url);
    config.batch = Some(HttpBatchConfig::default());
    config
}

pub fn sink(config: HttpSinkConfig) -> (HttpSink, Arc<Mutex<Vec<RetryNotice>>>) {
    let (ctx, notices) = context();
    (HttpSink::new(config, ctx).unwrap(), notices)
}

pub fn rejection(outcome: &DeliveryOutcome) -> &connectors::sinks::Rejection {
    match outcome {
        DeliveryOutcome::Rejected(rejection) => rejection,
        DeliveryOutcome::Delivered => panic!("expected a rejection"),
    }
}
