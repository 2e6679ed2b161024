//! The receiver process: the bench binary started again with
//! `SPEED_ROLE=receiver`, an axum server on a loopback port that it prints
//! as its first line of output. It lives until its standard input closes
//! (the parent ended), so it never outlives a run.
//!
//! Deliveries are grouped by *run* (a name in the path), each run counting
//! its events (`esdb-batch-size` of a batch request, else 1) and requests:
//!
//! - `POST /ingest/{run}`: counts and answers 200 at once;
//! - `POST /ingest/{run}/slow/{micros}`: holds each request for a service
//!   time (a blocking `thread::sleep` on tokio's blocking pool, which keeps
//!   to the microsecond better than tokio's millisecond timer), then counts;
//! - `POST /ingest/{run}/latency`: reads `seq` and `sentAtMicros` (the
//!   sender's wall clock, microseconds since the Unix epoch) from the JSON
//!   body and records now minus `sentAtMicros`, taken when the handler runs:
//!   after the whole request body arrived, before the answer.
//!
//! The parent reads a run over the control endpoints:
//!
//! - `GET /runs/{run}/wait?events=N&ms=T`: answers `{"events", "requests"}`
//!   once the run counted `N` events or after `T` ms, whichever is first
//!   (a long poll: no polling cost while a row runs);
//! - `GET /runs/{run}/latencies`: `[{"seq", "micros"}, ...]`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

/// The environment variable that starts the binary as the receiver.
pub const ROLE_VARIABLE: &str = "SPEED_ROLE";
pub const RECEIVER_ROLE: &str = "receiver";

/// What a run counted.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Counts {
    pub events: u64,
    pub requests: u64,
}

/// One delivery's append-to-arrival time.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Latency {
    pub seq: u64,
    pub micros: i64,
}

#[derive(Default)]
struct Run {
    events: watch::Sender<u64>,
    requests: AtomicU64,
    latencies: Mutex<Vec<Latency>>,
}

impl Run {
    fn count(&self, events: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.events.send_modify(|n| *n += events);
    }

    fn counts(&self) -> Counts {
        Counts {
            events: *self.events.borrow(),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }
}

#[derive(Default, Clone)]
struct Runs(Arc<Mutex<HashMap<String, Arc<Run>>>>);

impl Runs {
    fn get(&self, name: &str) -> Arc<Run> {
        let mut runs = lock(&self.0);
        Arc::clone(runs.entry(name.to_owned()).or_default())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs the receiver until standard input closes.
pub async fn serve() {
    let app = Router::new()
        .route("/ingest/{run}", post(ingest))
        .route("/ingest/{run}/slow/{micros}", post(ingest_slowly))
        .route("/ingest/{run}/latency", post(ingest_timed))
        .route("/runs/{run}/wait", get(wait))
        .route("/runs/{run}/latencies", get(latencies))
        .with_state(Runs::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let addr = listener.local_addr().expect("the receiver's address");
    // The parent reads this line to learn where to send.
    println!("http://{addr}");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    while matches!(stdin.read(&mut buffer).await, Ok(n) if n > 0) {}
}

fn events_in(headers: &HeaderMap) -> u64 {
    headers
        .get("esdb-batch-size")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(1)
}

async fn ingest(
    State(runs): State<Runs>,
    Path(run): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    drop(body);
    runs.get(&run).count(events_in(&headers));
    StatusCode::OK
}

async fn ingest_slowly(
    State(runs): State<Runs>,
    Path((run, micros)): Path<(String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    drop(body);
    let service = Duration::from_micros(micros);
    if tokio::task::spawn_blocking(move || std::thread::sleep(service))
        .await
        .is_err()
    {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    runs.get(&run).count(events_in(&headers));
    StatusCode::OK
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stamp {
    seq: u64,
    sent_at_micros: i64,
}

async fn ingest_timed(
    State(runs): State<Runs>,
    Path(run): Path<String>,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let arrived = unix_micros(SystemTime::now());
    let Ok(stamp) = serde_json::from_slice::<Stamp>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            "expected a JSON object with `seq` and `sentAtMicros`",
        );
    };
    let run = runs.get(&run);
    lock(&run.latencies).push(Latency {
        seq: stamp.seq,
        micros: arrived - stamp.sent_at_micros,
    });
    run.count(1);
    (StatusCode::OK, "")
}

/// Microseconds since the Unix epoch (the clock both processes share).
pub fn unix_micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct WaitQuery {
    events: u64,
    ms: u64,
}

async fn wait(
    State(runs): State<Runs>,
    Path(run): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Json<Counts> {
    let run = runs.get(&run);
    let mut events = run.events.subscribe();
    let _ = tokio::time::timeout(
        Duration::from_millis(query.ms),
        events.wait_for(|n| *n >= query.events),
    )
    .await;
    Json(run.counts())
}

async fn latencies(State(runs): State<Runs>, Path(run): Path<String>) -> Json<Vec<Latency>> {
    let run = runs.get(&run);
    let latencies = lock(&run.latencies).clone();
    Json(latencies)
}
