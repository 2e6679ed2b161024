//! Throughput of the embedded store (directly and through the KurrentDB gRPC
//! protocol with the sidecar's backend), and of connectors delivering to
//! a local HTTP receiver, on an embedded node and as a sidecar reading a
//! store node over gRPC. Run with `cargo bench --bench throughput`; results
//! are printed as a Markdown table (see docs/benchmarks.md).
//!
//! Set `BENCH_EVENTS` to change the number of events per end-to-end run, and
//! `BENCH_ONLY=connectors` to run only the connector rows (embedded and
//! sidecar, per-event and batch), e.g. to compare the two side by side, or
//! `BENCH_ONLY=sidecar` for only the sidecar's batch row (to profile it).
//! `BENCH_LOG` (a log filter, e.g. `warn`) prints the runtime's logs.

#![allow(clippy::print_stdout)]

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connectors::connector::{Command, ConnectorDefinition, ConnectorId};
use connectors::grpc::GrpcConfig;
use connectors::node::{Node, NodeConfig, StoreLocation};
use connectors::store::embedded::SqliteStore;
use connectors::store::kurrent::KurrentStore;
use connectors::store::{EventStore, ExpectedRevision, NewEvent};
use serde_json::json;
use support::cpu::own_cpu_seconds;

/// A JSON object of about 250 bytes.
fn payload(n: u64) -> serde_json::Value {
    json!({
        "orderId": format!("order-{n:08}"),
        "customer": { "id": format!("customer-{:06}", n % 100_000), "tier": "gold", "country": "NL" },
        "lines": [ { "sku": "SKU-000123", "qty": 2, "price": 19.99 }, { "sku": "SKU-000456", "qty": 1, "price": 5.25 } ],
        "total": 45.23,
        "currency": "EUR",
        "placedAt": "2026-11-28T12:00:00.000Z"
    })
}

fn events(from: u64, count: u64) -> Vec<NewEvent> {
    (from..from + count)
        .map(|n| NewEvent::json("OrderPlaced", &payload(n)))
        .collect()
}

struct Row {
    what: String,
    events: u64,
    seconds: f64,
    /// CPU time the whole process (every node, the receiver) used meanwhile.
    cpu_seconds: f64,
}

impl Row {
    fn print(&self) {
        println!(
            "| {} | {} | {:.2} s | {:.0} events/s | {:.1} µs |",
            self.what,
            self.events,
            self.seconds,
            self.events as f64 / self.seconds,
            self.cpu_seconds * 1e6 / self.events as f64
        );
    }
}

/// Wall-clock and process CPU time since a start: on a shared machine the
/// CPU time per event compares rows even when the wall clock is disturbed.
struct Clock {
    wall: Instant,
    cpu: f64,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: Instant::now(),
            cpu: own_cpu_seconds(),
        }
    }

    fn elapsed(&self) -> Duration {
        self.wall.elapsed()
    }

    fn cpu_seconds(&self) -> f64 {
        own_cpu_seconds() - self.cpu
    }
}

/// The embedded store, used directly.
fn embedded_store(dir: &std::path::Path) -> Arc<dyn EventStore> {
    Arc::new(SqliteStore::open(&dir.join("store-bench.db")).expect("open store"))
}

/// Another embedded store, used through the gRPC protocol by the sidecar's
/// backend (the official Rust client for appends and reads, its own decoder
/// for subscriptions). The server stays up until the end.
async fn grpc_store(dir: &std::path::Path) -> (Arc<dyn EventStore>, connectors::grpc::GrpcServer) {
    let served: Arc<dyn EventStore> =
        Arc::new(SqliteStore::open(&dir.join("grpc-bench.db")).expect("open store"));
    let server = connectors::grpc::serve(
        served,
        GrpcConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            credentials: None,
            users: Vec::new(),
            tls: None,
        },
    )
    .await
    .expect("serve gRPC");
    let client = KurrentStore::connect(&format!("esdb://{}?tls=false", server.local_addr()))
        .expect("connect");
    (Arc::new(client), server)
}

async fn store_rows(store: Arc<dyn EventStore>, via: &str) -> Vec<Row> {
    let mut rows = Vec::new();

    let batches = 1000;
    let start = Clock::start();
    for b in 0..batches {
        store
            .append(
                &format!("orders-{}", b % 10),
                ExpectedRevision::Any,
                events(b * 100, 100),
            )
            .await
            .expect("append");
    }
    rows.push(Row {
        what: format!("{via}: append, batches of 100"),
        events: batches * 100,
        seconds: start.elapsed().as_secs_f64(),
        cpu_seconds: start.cpu_seconds(),
    });

    let singles = 2000;
    let start = Clock::start();
    for n in 0..singles {
        store
            .append("singles-1", ExpectedRevision::Any, events(n, 1))
            .await
            .expect("append");
    }
    rows.push(Row {
        what: format!("{via}: append, one event per call (sequential)"),
        events: singles,
        seconds: start.elapsed().as_secs_f64(),
        cpu_seconds: start.cpu_seconds(),
    });

    let concurrent = 2000;
    let start = Clock::start();
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for n in 0..concurrent / 16 {
                    store
                        .append(&format!("writer-{w}"), ExpectedRevision::Any, events(n, 1))
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    rows.push(Row {
        what: format!("{via}: append, one event per call, 16 concurrent writers"),
        events: concurrent,
        seconds: start.elapsed().as_secs_f64(),
        cpu_seconds: start.cpu_seconds(),
    });

    let start = Clock::start();
    let read = support::read_whole_all(store.as_ref()).await;
    rows.push(Row {
        what: format!("{via}: read `$all` forwards, pages of 1000"),
        events: read,
        seconds: start.elapsed().as_secs_f64(),
        cpu_seconds: start.cpu_seconds(),
    });
    rows
}

/// Sequential POSTs of one 250-byte body: the round trip per-event mode is
/// bounded by.
async fn round_trip_row(url: &str, counter: &AtomicU64, requests: u64) -> Row {
    let client = reqwest::Client::new();
    let body = serde_json::to_vec(&payload(1)).expect("payload");
    let before = counter.load(Ordering::Relaxed);
    let start = Clock::start();
    for _ in 0..requests {
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("post");
        assert!(response.status().is_success());
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = start.cpu_seconds();
    assert_eq!(counter.load(Ordering::Relaxed) - before, requests);
    Row {
        what: "plain sequential HTTP POSTs (the per-event bound)".into(),
        events: requests,
        seconds,
        cpu_seconds,
    }
}

/// Where the connector runs.
#[derive(Clone, Copy)]
enum Topology {
    /// On the node that holds the events.
    Embedded,
    /// On a second node whose store is the first node, over gRPC.
    Sidecar,
}

fn node_config(data_dir: std::path::PathBuf, store: StoreLocation) -> NodeConfig {
    support::node::config(data_dir, store, "bench")
}

/// The node that runs the connector, and the node holding the events when
/// that is another one.
async fn start_nodes(
    dir: &std::path::Path,
    name: &str,
    topology: Topology,
) -> (Node, Option<Node>) {
    match topology {
        Topology::Embedded => {
            let node = Node::start(node_config(dir.join(name), StoreLocation::Embedded))
                .await
                .expect("start node");
            (node, None)
        }
        Topology::Sidecar => {
            // The store node runs no connectors, and the sidecar is a member
            // of its own name: two members called alike would take the
            // connector from each other over and over.
            let mut config =
                node_config(dir.join(format!("{name}-store")), StoreLocation::Embedded);
            config.runs_connectors = false;
            config.member = "store".into();
            config.grpc = Some(GrpcConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                credentials: None,
                users: Vec::new(),
                tls: None,
            });
            let store_node = Node::start(config).await.expect("start store node");
            let addr = store_node.grpc_addr().expect("gRPC address");
            let connection = format!("esdb://{addr}?tls=false");
            let mut config = node_config(dir.join(name), StoreLocation::Kurrent(connection));
            config.member = "sidecar".into();
            let sidecar = Node::start(config).await.expect("start sidecar");
            (sidecar, Some(store_node))
        }
    }
}

async fn end_to_end_row(
    dir: &std::path::Path,
    name: &str,
    topology: Topology,
    sink: serde_json::Value,
    count: u64,
) -> Row {
    let (url, counter) = support::receiver().await;
    let mut sink = sink;
    sink["url"] = json!(url);
    let slug = name.replace(", ", "-");
    let (node, store_node) = start_nodes(dir, &slug, topology).await;
    let writer = store_node.as_ref().unwrap_or(&node).store();
    for b in 0..count / 1000 {
        writer
            .append(
                &format!("orders-{}", b % 10),
                ExpectedRevision::Any,
                events(b * 1000, 1000),
            )
            .await
            .expect("append");
    }
    let definition: ConnectorDefinition = serde_json::from_value(json!({
        "sink": sink,
        "filter": { "streams": { "prefixes": ["orders-"] } },
        "checkpoint": { "everyEvents": 1000, "everyMs": 1000 }
    }))
    .expect("definition");
    let id = ConnectorId::parse(&slug).expect("id");
    let start = Clock::start();
    node.execute(
        &id,
        Command::Create {
            definition,
            enable: true,
            name: None,
        },
    )
    .await
    .expect("create");
    while counter.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = start.cpu_seconds();
    node.supervisor().stop_all().await;
    Row {
        what: format!("connector to local HTTP receiver, {name}"),
        events: count,
        seconds,
        cpu_seconds,
    }
}

#[tokio::main]
async fn main() {
    let events: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    if std::env::var_os("BENCH_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("BENCH_LOG"))
            .with_writer(std::io::stderr)
            .init();
    }
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let only_connectors = only == "connectors" || only == "sidecar";
    let only_sidecar_batch = only == "sidecar";
    let dir = tempfile::tempdir().expect("tempdir");
    println!("| what | events | time | rate | CPU per event |");
    println!("|---|---|---|---|---|");
    if !only_connectors {
        for row in store_rows(embedded_store(dir.path()), "embedded").await {
            row.print();
        }
        let (client, server) = grpc_store(dir.path()).await;
        for row in store_rows(client, "gRPC (Rust client)").await {
            row.print();
        }
        server.shutdown().await;
        let (url, counter) = support::receiver().await;
        round_trip_row(&url, &counter, events).await.print();
    }
    let per_event = json!({ "type": "http" });
    let batch = json!({ "type": "http", "batch": { "maxEvents": 1000, "maxBytes": 4194304, "lingerMs": 5 } });
    for (name, topology) in [
        ("embedded", Topology::Embedded),
        ("sidecar", Topology::Sidecar),
    ] {
        if only_sidecar_batch {
            if let Topology::Sidecar = topology {
                let batch_row = format!("{name}, batch-1000");
                end_to_end_row(dir.path(), &batch_row, topology, batch.clone(), events * 10)
                    .await
                    .print();
            }
            continue;
        }
        end_to_end_row(
            dir.path(),
            &format!("{name}, per-event"),
            topology,
            per_event.clone(),
            events,
        )
        .await
        .print();
        end_to_end_row(
            dir.path(),
            &format!("{name}, batch-1000"),
            topology,
            batch.clone(),
            events * 10,
        )
        .await
        .print();
    }
}
