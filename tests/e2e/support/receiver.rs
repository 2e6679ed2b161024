//! A real HTTP receiver on loopback that records what it got and can be told
//! to fail.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;

/// One accepted request.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When the receiver recorded it.
    pub arrived: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn position(&self) -> u64 {
        self.header("esdb-record-log-position")
            .parse()
            .expect("position header")
    }
}

#[derive(Default)]
struct Behaviour {
    /// Answer this status to everything while set.
    fail_all: Option<u16>,
    /// Answer 400 to requests with these event ids (`esdb-record-id`, or
    /// `x-event-id` as the `webhook-hmac` component sends it).
    reject_ids: HashSet<String>,
    accepted: Vec<Received>,
    refused: usize,
    /// Time taken to answer each request.
    delay: Duration,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: usize,
    most_in_flight: usize,
}

/// The receiver; cheap to clone.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<Behaviour>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(Behaviour::default()));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr: SocketAddr = listener.local_addr().expect("receiver addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}"),
            state,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Behaviour) -> R) -> R {
        f(&mut self.state.lock().expect("receiver lock"))
    }

    pub fn fail_all(&self, status: Option<u16>) {
        self.with(|b| b.fail_all = status);
    }

    /// Answers every request only after `delay` (a slow destination).
    pub fn set_delay(&self, delay: Duration) {
        self.with(|b| b.delay = delay);
    }

    pub fn reject_id(&self, id: &str) {
        self.with(|b| b.reject_ids.insert(id.to_owned()));
    }

    /// The most requests that were ever being answered at once.
    pub fn most_in_flight(&self) -> usize {
        self.with(|b| b.most_in_flight)
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.with(|b| b.accepted.clone())
    }

    /// The `n` field of every accepted JSON body, in arrival order.
    pub fn numbers(&self) -> Vec<u64> {
        self.accepted()
            .iter()
            .map(|r| {
                let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON body");
                body["n"].as_u64().expect("a numbered event")
            })
            .collect()
    }

    /// The log position of every accepted event, in arrival order.
    pub fn positions(&self) -> Vec<u64> {
        self.accepted().iter().map(Received::position).collect()
    }

    /// Waits (up to 30 seconds) until at least `count` requests were
    /// accepted.
    pub async fn wait_for_count(&self, count: usize) {
        super::eventually(
            Duration::from_secs(30),
            &format!("{count} deliveries"),
            || async { (self.count() >= count).then_some(()) },
        )
        .await;
    }

    /// Waits (up to `timeout`) until `n` distinct events, by log position,
    /// were accepted; returns every position in arrival order, replays
    /// included.
    pub async fn wait_for_distinct(&self, n: usize, timeout: Duration, what: &str) -> Vec<u64> {
        super::eventually(timeout, what, || async {
            let received = self.positions();
            let mut distinct = received.clone();
            distinct.sort_unstable();
            distinct.dedup();
            (distinct.len() >= n).then_some(received)
        })
        .await
    }

    pub fn count(&self) -> usize {
        self.with(|b| b.accepted.len())
    }

    pub fn refused(&self) -> usize {
        self.with(|b| b.refused)
    }

    pub fn clear(&self) {
        self.with(|b| b.accepted.clear());
    }
}

async fn handle(
    State(state): State<Arc<Mutex<Behaviour>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let delay = {
        let mut b = state.lock().expect("receiver lock");
        b.in_flight += 1;
        b.most_in_flight = b.most_in_flight.max(b.in_flight);
        b.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut b = state.lock().expect("receiver lock");
    b.in_flight -= 1;
    if let Some(status) = b.fail_all {
        b.refused += 1;
        return StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    }
    let refused = ["esdb-record-id", "x-event-id"].iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|id| b.reject_ids.contains(id))
    });
    if refused {
        b.refused += 1;
        return StatusCode::BAD_REQUEST;
    }
    b.accepted.push(Received {
        path: uri.path().to_owned(),
        headers,
        body,
        arrived: Instant::now(),
    });
    StatusCode::OK
}
