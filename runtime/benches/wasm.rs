//! The cost of running a transform as a WebAssembly component. Run with
//! `guest-examples/build.sh redact misbehave && cargo bench --bench wasm`;
//! results are printed as Markdown (see docs/benchmarks.md).
//!
//! - the `redact` component against its own redaction code compiled
//!   natively (`support/wasm_ratio.rs`), in batches of 100 and of 1,000;
//! - the fixed cost of one batch call (`misbehave` in `ok` mode, one event);
//! - a transform stage's start with its compiled component in the cache;
//! - end to end: a connector with the `redact` transform beside the same
//!   connector without it, HTTP batch mode, one run.

#![allow(clippy::print_stdout)]

mod support;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use connectors::connector::{Command, ConnectorDefinition, ConnectorId};
use connectors::modules::digest_of;
use connectors::node::{Node, NodeConfig};
use connectors::store::{ExpectedRevision, NewEvent};
use connectors::wasm::StageLimits;
use serde_json::json;
use support::orders::order;
use support::wasm_ratio::{self, example, identity, recorded};

const BATCH: usize = 100;
const BATCHES: usize = 200;

fn row(what: &str, value: String) {
    println!("| {what} | {value} |");
}

async fn component_rows(cache: &Path) {
    for events_per_batch in [BATCH, 1000] {
        let ratio =
            wasm_ratio::component_vs_native(events_per_batch, BATCHES * BATCH / events_per_batch)
                .await;
        let per_second = |us: f64| format!("{:.0} events/s ({us:.2} µs/event)", 1e6 / us);
        row(
            &format!("redact, native Rust, batches of {events_per_batch}"),
            per_second(ratio.native_us_per_event),
        );
        row(
            &format!("redact, component, batches of {events_per_batch}"),
            per_second(ratio.component_us_per_event),
        );
        row(
            &format!("pass-through component (the crossing), batches of {events_per_batch}"),
            per_second(ratio.crossing_us_per_event),
        );
        row(
            &format!("component / native cost, batches of {events_per_batch}"),
            format!("{:.2}x", ratio.ratio()),
        );
        row(
            &format!("the guest's own work (component minus crossing) / native, batches of {events_per_batch}"),
            format!("{:.2}x ({:.2} µs/event)", ratio.guest_work_ratio(), ratio.guest_work_us_per_event()),
        );
    }

    let host = wasm_ratio::host(cache);
    let redact = example("redact");
    host.inspect(&digest_of(&redact), &redact)
        .expect("inspect redact");
    let misbehave = example("misbehave");
    host.inspect(&digest_of(&misbehave), &misbehave)
        .expect("inspect misbehave");
    let component = host
        .component(&digest_of(&misbehave), || misbehave.clone())
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
        let component = host.cached(&digest_of(&redact)).expect("cached");
        let mut stage = host
            .transform(
                &component,
                identity(),
                wasm_ratio::REDACT_CONFIG.into(),
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
            .map(|i| NewEvent::json("OrderPlaced", &order(b * 1000 + i)))
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
                name: None,
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
