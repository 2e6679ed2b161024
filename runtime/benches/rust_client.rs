//! The official Rust client (`kurrentdb`, the sidecar's client) against the
//! embedded node's gRPC protocol server, with the workload the Node.js and
//! Python client benchmarks run (`tests/clients/*/bench.sh`), so the three
//! clients compare side by side: appends one at a time, from 16 concurrent
//! writers, in batches of 100 (with `Append` and with `BatchAppend`), reads
//! of one stream and of `$all`, and a subscription catching up with `$all`.
//!
//! Starts `connectors serve --grpc-listen` (the binary this package builds)
//! on a fresh data dir, or uses `BENCH_CONNECTION` (a connection string).
//! Run with `cargo bench --bench rust_client`; prints one JSON object.

#![allow(clippy::print_stdout)]

/// Only what this benchmark needs of the shared support.
#[path = "support/cpu.rs"]
#[allow(dead_code)]
mod cpu;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kurrentdb::{
    AppendToStreamOptions, BatchAppendOptions, Client, EventData, ReadAllOptions,
    ReadStreamOptions, StreamPosition, StreamState, SubscribeToAllOptions,
};
use serde_json::{json, Value};

const SINGLE: usize = 2_000;
const CONCURRENT: usize = 2_000;
const WRITERS: usize = 16;
const BATCHES: usize = 200;

/// About 250 bytes of JSON, as in the other clients' benchmarks.
fn bench_event(n: usize) -> EventData {
    EventData::json(
        "OrderPlaced",
        &json!({
            "orderId": format!("order-{n}"),
            "customer": { "id": format!("customer-{}", n % 1000), "name": "Ada Lovelace", "tier": "gold" },
            "lines": [
                { "sku": "sku-1234", "quantity": 2, "price": 19.99 },
                { "sku": "sku-5678", "quantity": 1, "price": 89.5 }
            ],
            "total": 129.48,
            "currency": "EUR"
        }),
    )
    .expect("serialize a bench event")
    .id(uuid::Uuid::new_v4())
}

/// CPU time this process has used (user + system).
fn process_cpu() -> Duration {
    Duration::from_secs_f64(cpu::own_cpu_seconds())
}

/// Wall time, rate and client CPU per event of one phase.
async fn timed<F: std::future::Future<Output = usize>>(body: F) -> Value {
    let cpu = process_cpu();
    let started = Instant::now();
    let count = body.await;
    let elapsed = started.elapsed();
    let used = process_cpu().saturating_sub(cpu);
    json!({
        "count": count,
        "ms": elapsed.as_millis(),
        "perSecond": (count as f64 / elapsed.as_secs_f64()).round(),
        "clientCpuUsPerEvent": (used.as_micros() as f64 / count as f64 * 10.0).round() / 10.0,
    })
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A node on a fresh data dir; killed when dropped.
struct Node {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_node() -> (Node, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (http, grpc) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_connectors"))
        .args(["serve", "--data"])
        .arg(dir.path())
        .args(["--listen", &format!("127.0.0.1:{http}")])
        .args(["--grpc-listen", &format!("127.0.0.1:{grpc}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start connectors serve");
    let node = Node { child, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", grpc))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the node did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (node, format!("esdb://127.0.0.1:{grpc}?tls=false"))
}

async fn append(client: &Client, stream: &str, events: Vec<EventData>) {
    client
        .append_to_stream(stream, &AppendToStreamOptions::default(), events)
        .await
        .expect("append");
}

async fn read_stream(client: &Client, stream: &str) -> usize {
    let mut read = client
        .read_stream(
            stream,
            &ReadStreamOptions::default().position(StreamPosition::Start),
        )
        .await
        .expect("read the stream");
    let mut count = 0;
    while read.next().await.expect("read an event").is_some() {
        count += 1;
    }
    count
}

async fn read_all(client: &Client) -> usize {
    let mut read = client
        .read_all(&ReadAllOptions::default().position(StreamPosition::Start))
        .await
        .expect("read $all");
    let mut count = 0;
    while read.next().await.expect("read an event").is_some() {
        count += 1;
    }
    count
}

#[tokio::main]
async fn main() {
    let (_node, connection) = match std::env::var("BENCH_CONNECTION") {
        Ok(connection) => (None, connection),
        Err(_) => {
            let (node, connection) = start_node().await;
            (Some(node), connection)
        }
    };
    let client = Client::new(connection.parse().expect("connection string")).expect("client");
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    append(
        &client,
        &format!("bench-warmup-{run}"),
        vec![bench_event(0)],
    )
    .await;

    let mut results = serde_json::Map::new();
    let stream = format!("bench-single-{run}");
    results.insert(
        "appendSequential".into(),
        timed(async {
            for n in 0..SINGLE {
                append(&client, &stream, vec![bench_event(n)]).await;
            }
            SINGLE
        })
        .await,
    );

    let next = Arc::new(AtomicUsize::new(0));
    results.insert(
        "appendConcurrent".into(),
        timed(async {
            let writers = (0..WRITERS).map(|w| {
                let (client, next, run) = (client.clone(), next.clone(), run.clone());
                tokio::spawn(async move {
                    let stream = format!("bench-concurrent-{run}-{w}");
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= CONCURRENT {
                            break;
                        }
                        append(&client, &stream, vec![bench_event(n)]).await;
                    }
                })
            });
            for writer in futures::future::join_all(writers).await {
                writer.expect("a writer");
            }
            CONCURRENT
        })
        .await,
    );

    let batch_stream = format!("bench-batches-{run}");
    results.insert(
        "appendBatchesOf100".into(),
        timed(async {
            for b in 0..BATCHES {
                let events = (0..100).map(|i| bench_event(b * 100 + i)).collect();
                append(&client, &batch_stream, events).await;
            }
            BATCHES * 100
        })
        .await,
    );

    let batcher = client
        .batch_append(&BatchAppendOptions::default())
        .await
        .expect("open a batch append");
    let batched_stream = format!("bench-batch-append-{run}");
    results.insert(
        "batchAppendBatchesOf100".into(),
        timed(async {
            for b in 0..BATCHES {
                let events = (0..100).map(|i| bench_event(b * 100 + i)).collect();
                batcher
                    .append_to_stream(&batched_stream, StreamState::Any, events)
                    .await
                    .expect("batch append");
            }
            BATCHES * 100
        })
        .await,
    );

    let mut reads = Vec::new();
    for _ in 0..3 {
        reads.push(
            timed(async {
                let count = read_stream(&client, &batch_stream).await;
                assert_eq!(count, BATCHES * 100, "events read from the batch stream");
                count
            })
            .await,
        );
    }
    results.insert("readStreamForwards".into(), Value::Array(reads));

    let mut reads = Vec::new();
    let mut total = 0;
    for _ in 0..3 {
        reads.push(
            timed(async {
                total = read_all(&client).await;
                total
            })
            .await,
        );
    }
    results.insert("readAllForwards".into(), Value::Array(reads));

    results.insert(
        "subscribeAllCatchUp".into(),
        timed(async {
            let mut subscription = client
                .subscribe_to_all(&SubscribeToAllOptions::default().position(StreamPosition::Start))
                .await;
            let mut count = 0;
            while count < total {
                subscription.next().await.expect("a subscription event");
                count += 1;
            }
            count
        })
        .await,
    );

    println!(
        "{}",
        serde_json::to_string_pretty(
            &json!({ "client": "kurrentdb (Rust) 1.2.0", "results": results })
        )
        .expect("JSON")
    );
}
