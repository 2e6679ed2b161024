//! What many connectors cost on one embedded node, with the release binary:
//! `connectors serve` as a child process, the `redact` component uploaded
//! (`PUT /modules/redact`), N connectors each filtering its own stream
//! prefix through the `redact` transform into an HTTP sink (batch mode) to a
//! loopback receiver in this process, and then the events appended to each
//! connector's stream, round-robin (every connector's first batch, then
//! every second batch, ...). Measured ([`ScaleReport`]):
//!
//! - how long the creates took (the API's answers);
//! - from the first create until every connector delivered its first event
//!   (the receiver notes when each connector's first batch arrives), and
//!   until every connector delivered all of its events;
//! - the node's resident memory then (`VmRSS` of `/proc/<pid>/status`), and
//!   the CPU time it used from the first create until then (utime + stime of
//!   `/proc/<pid>/stat`; on a shared machine a steadier measure of the work
//!   than the wall time);
//! - after a settling pause, an idle period: the node's CPU (utime + stime
//!   of `/proc/<pid>/stat` over the wall time; 100% is one core) and the
//!   events appended to the store in that time other than the members'
//!   heartbeats (`$connectors-members`), read back through
//!   `GET /streams/$all`.
//!
//! [`measure_scale`] runs it once; `benches/idle.rs` prints it. The
//! component must be built first (`guest-examples/build.sh redact`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cpu::cpu_seconds_of;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

const MEMBERS_STREAM: &str = "$connectors-members";
/// Events per append request.
const APPEND_BATCH: u64 = 250;
/// Append requests in flight at once.
const APPENDS_IN_FLIGHT: usize = 8;
const START_DEADLINE: Duration = Duration::from_secs(60);
const DELIVERY_DEADLINE: Duration = Duration::from_secs(1800);

/// What to measure.
#[derive(Debug, Clone)]
pub struct ScaleSettings {
    pub connectors: usize,
    /// Events appended to each connector's stream.
    pub events_each: u64,
    /// The pause between the last delivery and the idle period.
    pub settle: Duration,
    /// The idle period measured.
    pub idle: Duration,
    /// The `connectors` binary to start.
    pub binary: PathBuf,
}

impl ScaleSettings {
    /// From the environment: `IDLE_CONNECTORS` (200), `IDLE_EVENTS` (1000
    /// per connector), `IDLE_SETTLE_SECS` (5), `IDLE_SECS` (30),
    /// `IDLE_BINARY` (default: the `connectors` binary this benchmark was
    /// built with).
    pub fn from_env() -> ScaleSettings {
        let number = |name: &str, default: u64| -> u64 {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        ScaleSettings {
            connectors: number("IDLE_CONNECTORS", 200) as usize,
            events_each: number("IDLE_EVENTS", 1000),
            settle: Duration::from_secs(number("IDLE_SETTLE_SECS", 5)),
            idle: Duration::from_secs(number("IDLE_SECS", 30)),
            binary: std::env::var_os("IDLE_BINARY")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_connectors"))),
        }
    }
}

/// What one run measured. Times are seconds from the first create.
#[derive(Debug, Clone)]
pub struct ScaleReport {
    pub connectors: usize,
    pub events_each: u64,
    /// Until the API answered the last create.
    pub creates_seconds: f64,
    /// Until the last append was acknowledged.
    pub appends_seconds: f64,
    /// Until the last connector to start delivered its first event.
    pub all_delivering_seconds: f64,
    /// Until the median connector delivered its first event.
    pub median_delivering_seconds: f64,
    /// Until every connector delivered all of its events.
    pub all_delivered_seconds: f64,
    /// The node's CPU time (user + system) from the first create until
    /// every connector delivered all.
    pub load_cpu_seconds: f64,
    /// The node's resident memory then.
    pub rss_mib: f64,
    /// The idle period measured.
    pub idle_seconds: f64,
    /// The node's CPU while idle; 100% is one core.
    pub idle_cpu_percent: f64,
    pub idle_non_heartbeat_appends_per_second: f64,
    pub idle_heartbeats: u64,
    /// What was appended while idle, per stream (heartbeats included).
    pub idle_appends_by_stream: BTreeMap<String, u64>,
}

impl ScaleReport {
    fn total_events(&self) -> u64 {
        self.events_each * self.connectors as u64
    }

    /// The report as (what, result) rows of a Markdown table.
    pub fn rows(&self) -> Vec<(String, String)> {
        let idle_others: u64 = self
            .idle_appends_by_stream
            .iter()
            .filter(|(stream, _)| stream.as_str() != MEMBERS_STREAM)
            .map(|(_, count)| count)
            .sum();
        let mut rows = vec![
            (
                "connectors (each: redact transform, HTTP batch sink)".to_owned(),
                self.connectors.to_string(),
            ),
            (
                "events delivered".to_owned(),
                format!(
                    "{} ({} per connector)",
                    self.total_events(),
                    self.events_each
                ),
            ),
            (
                "connectors created after".to_owned(),
                format!("{:.2} s", self.creates_seconds),
            ),
            (
                "events appended after".to_owned(),
                format!("{:.2} s", self.appends_seconds),
            ),
            (
                "first create until every connector delivered its first event".to_owned(),
                format!(
                    "{:.2} s (median connector: {:.2} s)",
                    self.all_delivering_seconds, self.median_delivering_seconds
                ),
            ),
            (
                "first create until every connector delivered all".to_owned(),
                format!(
                    "{:.2} s ({:.0} events/s)",
                    self.all_delivered_seconds,
                    self.total_events() as f64 / self.all_delivered_seconds
                ),
            ),
            (
                "node CPU time until then".to_owned(),
                format!("{:.1} s", self.load_cpu_seconds),
            ),
            (
                "node RSS then".to_owned(),
                format!("{:.0} MiB", self.rss_mib),
            ),
            (
                format!("idle CPU over {:.0} s", self.idle_seconds),
                format!("{:.1}% of one core", self.idle_cpu_percent),
            ),
            (
                "events appended while idle (besides heartbeats)".to_owned(),
                format!(
                    "{idle_others} ({:.2}/s; heartbeats: {})",
                    self.idle_non_heartbeat_appends_per_second, self.idle_heartbeats
                ),
            ),
        ];
        rows.extend(
            self.idle_appends_by_stream
                .iter()
                .filter(|(stream, _)| stream.as_str() != MEMBERS_STREAM)
                .take(5)
                .map(|(stream, count)| (format!("  of which to `{stream}`"), count.to_string())),
        );
        rows
    }
}

/// Runs the scenario once against a fresh node in a temporary directory.
pub async fn measure_scale(settings: ScaleSettings) -> ScaleReport {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let receiver = Receiver::start(settings.connectors).await;
    let node = Arc::new(Node::start(&settings.binary, &dir.path().join("node")).await);
    node.upload("redact", redact_component()).await;

    let started = Instant::now();
    let cpu_at_start = cpu_seconds_of(node.pid());
    for index in 0..settings.connectors {
        let definition = json!({
            "sink": {
                "type": "http",
                "url": format!("{}/{index}", receiver.url),
                "batch": { "maxEvents": 1000, "maxBytes": 4194304, "lingerMs": 5 }
            },
            "filter": { "streams": { "prefixes": [prefix(index)] } },
            "transforms": [{ "module": "redact", "config": { "remove": ["card"] } }]
        });
        node.create(&format!("idle-{index}"), &definition).await;
    }
    let created = started.elapsed();
    append_load(&node, settings.connectors, settings.events_each).await;
    let appended = started.elapsed();
    while !receiver.all_delivered(settings.events_each) {
        assert!(
            started.elapsed() < DELIVERY_DEADLINE,
            "only {} of {} events delivered after {DELIVERY_DEADLINE:?}",
            receiver.total(),
            settings.events_each * settings.connectors as u64
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivered = started.elapsed();
    let load_cpu_seconds = cpu_seconds_of(node.pid()) - cpu_at_start;
    let rss = rss_mib(node.pid());
    let mut first_deliveries = receiver.first_deliveries(started);

    tokio::time::sleep(settings.settle).await;
    let head = node.head().await;
    let cpu_before = cpu_seconds_of(node.pid());
    let idle_started = Instant::now();
    tokio::time::sleep(settings.idle).await;
    let idle_cpu_seconds = cpu_seconds_of(node.pid()) - cpu_before;
    let idle_seconds = idle_started.elapsed().as_secs_f64();
    let appended_idle = node.appended_after(head).await;
    let heartbeats = appended_idle.get(MEMBERS_STREAM).copied().unwrap_or(0);
    let others = appended_idle.values().sum::<u64>() - heartbeats;

    first_deliveries.sort_by(f64::total_cmp);
    ScaleReport {
        connectors: settings.connectors,
        events_each: settings.events_each,
        creates_seconds: created.as_secs_f64(),
        appends_seconds: appended.as_secs_f64(),
        all_delivering_seconds: first_deliveries.last().copied().unwrap_or(0.0),
        median_delivering_seconds: first_deliveries
            .get(first_deliveries.len() / 2)
            .copied()
            .unwrap_or(0.0),
        all_delivered_seconds: delivered.as_secs_f64(),
        load_cpu_seconds,
        rss_mib: rss,
        idle_seconds,
        idle_cpu_percent: idle_cpu_seconds / idle_seconds * 100.0,
        idle_non_heartbeat_appends_per_second: others as f64 / idle_seconds,
        idle_heartbeats: heartbeats,
        idle_appends_by_stream: appended_idle,
    }
}

/// Counts the events each connector delivered: connector `i` posts to
/// `/ingest/{i}`, in batches that say their size (`esdb-batch-size`), and
/// notes when its first batch arrived.
struct Receiver {
    url: String,
    counters: Arc<Counters>,
}

struct Counters {
    /// When the receiver started; first deliveries are counted from here.
    epoch: Instant,
    delivered: Vec<AtomicU64>,
    /// Nanoseconds after `epoch` of each connector's first batch, 0 until
    /// it arrives.
    first_at: Vec<AtomicU64>,
}

impl Receiver {
    async fn start(connectors: usize) -> Receiver {
        async fn count(
            State(counters): State<Arc<Counters>>,
            UrlPath(index): UrlPath<usize>,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            let n = headers
                .get("esdb-batch-size")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(1);
            drop(body);
            let (Some(counter), Some(first_at)) =
                (counters.delivered.get(index), counters.first_at.get(index))
            else {
                return StatusCode::NOT_FOUND;
            };
            let now = u64::try_from(counters.epoch.elapsed().as_nanos())
                .unwrap_or(u64::MAX)
                .max(1);
            let _ = first_at.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
            counter.fetch_add(n, Ordering::Relaxed);
            StatusCode::OK
        }
        let counters = Arc::new(Counters {
            epoch: Instant::now(),
            delivered: (0..connectors).map(|_| AtomicU64::new(0)).collect(),
            first_at: (0..connectors).map(|_| AtomicU64::new(0)).collect(),
        });
        let app = Router::new()
            .route("/ingest/{index}", post(count))
            .with_state(Arc::clone(&counters));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr: SocketAddr = listener.local_addr().expect("the receiver's address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/ingest"),
            counters,
        }
    }

    fn all_delivered(&self, events: u64) -> bool {
        self.counters
            .delivered
            .iter()
            .all(|c| c.load(Ordering::Relaxed) >= events)
    }

    fn total(&self) -> u64 {
        self.counters
            .delivered
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Seconds from `started` to each connector's first batch.
    fn first_deliveries(&self, started: Instant) -> Vec<f64> {
        let offset = started
            .saturating_duration_since(self.counters.epoch)
            .as_secs_f64();
        self.counters
            .first_at
            .iter()
            .map(|at| Duration::from_nanos(at.load(Ordering::Relaxed)).as_secs_f64() - offset)
            .collect()
    }
}

/// The node under test, killed when dropped.
struct Node {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Node {
    async fn start(binary: &Path, data: &Path) -> Node {
        std::fs::create_dir_all(data).expect("create the data directory");
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("a local address").port()
        };
        let log = std::fs::File::create(data.join("node.log")).expect("create the node's log");
        let child = Command::new(binary)
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let node = Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
        };
        let started = Instant::now();
        loop {
            let answer = node.http.get(format!("{}/health", node.base)).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return node;
            }
            assert!(
                started.elapsed() < START_DEADLINE,
                "the node did not answer /health; see {}",
                data.join("node.log").display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Value {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{what}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn upload(&self, name: &str, component: Vec<u8>) {
        let url = format!("{}/modules/{name}", self.base);
        let request = self
            .http
            .put(&url)
            .header("content-type", "application/wasm")
            .body(component);
        self.send(request, &format!("PUT {url}")).await;
    }

    async fn create(&self, id: &str, definition: &Value) {
        let url = format!("{}/connectors/{id}", self.base);
        let request = self.http.post(&url).json(definition);
        self.send(request, &format!("POST {url}")).await;
    }

    async fn append(&self, stream: &str, events: &Value) {
        let url = format!("{}/streams/{stream}", self.base);
        let request = self.http.post(&url).json(events);
        self.send(request, &format!("POST {url}")).await;
    }

    /// Up to 4,096 events of `$all` from `from`, forwards.
    async fn read_all(&self, from: &str) -> Vec<Value> {
        let url = format!("{}/streams/%24all?from={from}&count=4096", self.base);
        let page = self.send(self.http.get(&url), &format!("GET {url}")).await;
        page["events"].as_array().cloned().unwrap_or_default()
    }

    /// The position of the last event in the log.
    async fn head(&self) -> u64 {
        let url = format!(
            "{}/streams/%24all?direction=backwards&from=end&count=1",
            self.base
        );
        let page = self.send(self.http.get(&url), &format!("GET {url}")).await;
        page["events"][0]["position"].as_u64().unwrap_or(0)
    }

    /// The events appended after `position`, counted per stream.
    async fn appended_after(&self, position: u64) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        let mut from = position + 1;
        loop {
            let events = self.read_all(&from.to_string()).await;
            let Some(last) = events.last() else {
                return counts;
            };
            from = last["position"].as_u64().expect("a position") + 1;
            for event in &events {
                let stream = event["stream"].as_str().unwrap_or("?").to_owned();
                *counts.entry(stream).or_default() += 1;
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    kib / 1024.0
}

fn redact_component() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-examples/dist/redact.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); run guest-examples/build.sh redact",
            path.display()
        )
    })
}

fn prefix(index: usize) -> String {
    format!("idle{index:04}-")
}

fn payload(n: u64) -> Value {
    json!({
        "eventType": "OrderPlaced",
        "data": {
            "orderId": format!("order-{n:08}"),
            "card": "4111111111111111",
            "total": 45.23,
            "currency": "EUR"
        }
    })
}

/// Appends `events` events to each connector's stream, a few requests at a
/// time, round-robin: every connector's first batch, then every second
/// batch, and so on.
async fn append_load(node: &Arc<Node>, connectors: usize, events: u64) {
    let mut requests = Vec::new();
    let mut first = 0;
    while first < events {
        let size = (events - first).min(APPEND_BATCH);
        requests.extend((0..connectors).map(|index| (index, first, size)));
        first += size;
    }
    let requests = Arc::new(std::sync::Mutex::new(requests.into_iter()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..APPENDS_IN_FLIGHT {
        let node = Arc::clone(node);
        let requests = Arc::clone(&requests);
        workers.spawn(async move {
            loop {
                let next = requests.lock().expect("the request list").next();
                let Some((index, first, size)) = next else {
                    return;
                };
                let batch: Vec<Value> = (first..first + size).map(payload).collect();
                node.append(&format!("{}orders", prefix(index)), &Value::Array(batch))
                    .await;
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("an append worker");
    }
}
