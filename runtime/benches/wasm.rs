//! The cost of running a transform as a WebAssembly component. Run with
//! `guest-examples/build.sh redact misbehave && cargo bench --bench wasm`;
//! results are printed as Markdown (see docs/benchmarks.md).
//!
//! - the same redaction (parse JSON, remove a field, serialize) as the
//!   `redact` component and as native Rust, over the same batches;
//! - the fixed cost of one batch call (`misbehave` in `ok` mode, one event);
//! - a transform stage's start with its compiled component in the cache;
//! - end to end: a connector with the `redact` transform beside the same
//!   connector without it, HTTP batch mode, one run.

#![allow(clippy::print_stdout)]

mod support;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use connectors::connector::{Command, ConnectorDefinition, ConnectorId};
use connectors::node::{Node, NodeConfig};
use connectors::store::{ContentType, ExpectedRevision, NewEvent, Position, RecordedEvent};
use connectors::wasm::{GuestIdentity, StageLimits, StageOutcome, WasmConfig, WasmHost};
use serde_json::{json, Value};
use uuid::Uuid;

const BATCH: usize = 100;
const BATCHES: usize = 200;

fn payload(n: u64) -> Value {
    json!({
        "orderId": format!("order-{n:08}"),
        "customer": { "id": format!("customer-{:06}", n % 100_000), "tier": "gold", "country": "NL" },
        "card": "4111111111111111",
        "lines": [ { "sku": "SKU-000123", "qty": 2, "price": 19.99 }, { "sku": "SKU-000456", "qty": 1, "price": 5.25 } ],
        "total": 45.23,
        "currency": "EUR"
    })
}

fn recorded(n: u64) -> RecordedEvent {
    RecordedEvent {
        id: Uuid::new_v4(),
        stream: "orders-1".into(),
        revision: n,
        position: Position::new(n + 1, n + 1),
        event_type: "OrderPlaced".into(),
        content_type: ContentType::Json,
        created: Utc::now(),
        data: serde_json::to_vec(&payload(n)).expect("payload").into(),
        metadata: Default::default(),
    }
}

/// The native twin of the `redact` component with `{"remove": ["card"]}`.
fn redact_native(events: &[RecordedEvent]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|e| {
            let mut value: Value = serde_json::from_slice(&e.data).expect("json");
            if let Some(object) = value.as_object_mut() {
                object.remove("card");
            }
            serde_json::to_vec(&value).expect("serialize")
        })
        .collect()
}

fn example(name: &str) -> Vec<u8> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../guest-examples/dist/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); run guest-examples/build.sh",
            path.display()
        )
    })
}

fn row(what: &str, value: String) {
    println!("| {what} | {value} |");
}

async fn component_rows(cache: &Path) {
    let host = WasmHost::new(WasmConfig {
        cache_dir: cache.to_owned(),
        destinations: Default::default(),
    })
    .expect("host");
    let identity = || GuestIdentity {
        connector: "bench".into(),
        stage: "bench".into(),
        secrets: Vec::new(),
    };
    let batches: Vec<Vec<RecordedEvent>> = (0..BATCHES)
        .map(|b| {
            (0..BATCH)
                .map(|i| recorded((b * BATCH + i) as u64))
                .collect()
        })
        .collect();

    let redact = example("redact");
    host.inspect("sha256:redact", &redact)
        .expect("inspect redact");
    let component = host
        .component("sha256:redact", || redact.clone())
        .expect("component");
    let mut stage = host
        .transform(
            &component,
            identity(),
            json!({ "remove": ["card"] }).to_string(),
            StageLimits::default(),
        )
        .expect("stage");
    stage.transform(&batches[0]).await.expect("warm up");

    // Native and component, alternated per batch so both see the same machine.
    let (mut native, mut wasm) = (Duration::ZERO, Duration::ZERO);
    for batch in &batches {
        let start = Instant::now();
        let out = redact_native(batch);
        native += start.elapsed();
        assert_eq!(out.len(), batch.len());
        let start = Instant::now();
        let outcomes = stage.transform(batch).await.expect("transform");
        wasm += start.elapsed();
        assert!(
            matches!(&outcomes[0], StageOutcome::Emit(r) if !r[0].data.windows(4).any(|w| w == b"card"))
        );
    }
    let events = (BATCHES * BATCH) as f64;
    row(
        "redact, native Rust",
        format!(
            "{:.0} events/s ({:.2} µs/event)",
            events / native.as_secs_f64(),
            native.as_secs_f64() * 1e6 / events
        ),
    );
    row(
        "redact, component",
        format!(
            "{:.0} events/s ({:.2} µs/event)",
            events / wasm.as_secs_f64(),
            wasm.as_secs_f64() * 1e6 / events
        ),
    );
    row(
        "component / native cost",
        format!("{:.2}x", wasm.as_secs_f64() / native.as_secs_f64()),
    );

    let misbehave = example("misbehave");
    host.inspect("sha256:misbehave", &misbehave)
        .expect("inspect misbehave");
    let component = host
        .component("sha256:misbehave", || misbehave.clone())
        .expect("component");
    let mut stage = host
        .transform(
            &component,
            identity(),
            json!({ "mode": "ok" }).to_string(),
            StageLimits::default(),
        )
        .expect("stage");
    let one = vec![recorded(1)];
    stage.transform(&one).await.expect("warm up");
    let calls = 5000;
    let start = Instant::now();
    for _ in 0..calls {
        stage.transform(&one).await.expect("call");
    }
    row(
        "one batch call (1 event, pass-through)",
        format!(
            "{:.1} µs",
            start.elapsed().as_secs_f64() * 1e6 / calls as f64
        ),
    );

    let start = Instant::now();
    let runs = 20;
    for _ in 0..runs {
        let component = host.cached("sha256:redact").expect("cached");
        let mut stage = host
            .transform(
                &component,
                identity(),
                json!({ "remove": ["card"] }).to_string(),
                StageLimits::default(),
            )
            .expect("stage");
        stage.transform(&one).await.expect("first call");
    }
    row(
        "stage start from the cache (load, instantiate, init, first call)",
        format!(
            "{:.1} ms",
            start.elapsed().as_secs_f64() * 1e3 / runs as f64
        ),
    );
}

async fn end_to_end(dir: &Path, events: u64) {
    let node = Node::start(NodeConfig {
        store: connectors::node::StoreLocation::Embedded,
        grpc: None,
        data_dir: dir.join("node"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        max_body_bytes: 1 << 20,
        max_module_bytes: 64 << 20,
        destinations: Default::default(),
        secrets: Default::default(),
        access: Default::default(),
        member: "bench".into(),
        role: None,
        runs_connectors: true,
        heartbeat: connectors::activation::DEFAULT_HEARTBEAT,
        lease: connectors::activation::DEFAULT_LEASE,
    })
    .await
    .expect("node");
    node.modules()
        .upload("redact", example("redact"))
        .await
        .expect("upload");
    for b in 0..events / 1000 {
        let batch = (0..1000)
            .map(|i| NewEvent::json("OrderPlaced", &payload(b * 1000 + i)))
            .collect();
        node.store()
            .append(&format!("orders-{}", b % 10), ExpectedRevision::Any, batch)
            .await
            .expect("append");
    }
    for (name, transforms) in [
        ("without-transform", json!([])),
        (
            "with-redact",
            json!([{ "module": "redact", "config": { "remove": ["card"] } }]),
        ),
    ] {
        let (url, counter) = support::receiver().await;
        let definition: ConnectorDefinition = serde_json::from_value(json!({
            "sink": { "type": "http", "url": url, "batch": { "maxEvents": 1000, "maxBytes": 4194304, "lingerMs": 5 } },
            "filter": { "streams": { "prefixes": ["orders-"] } },
            "transforms": transforms
        }))
        .expect("definition");
        let start = Instant::now();
        node.execute(
            &ConnectorId::parse(name).expect("id"),
            Command::Create {
                definition,
                enable: true,
            },
        )
        .await
        .expect("create");
        while counter.load(Ordering::Relaxed) < events {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let seconds = start.elapsed().as_secs_f64();
        row(
            &format!("connector, HTTP batch of 1,000, {name}"),
            format!("{:.0} events/s ({events} events)", events as f64 / seconds),
        );
    }
    node.supervisor().stop_all().await;
}

#[tokio::main]
async fn main() {
    let events: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    println!("| what | result |");
    println!("|---|---|");
    component_rows(&dir.path().join("cache")).await;
    end_to_end(dir.path(), events).await;
}
