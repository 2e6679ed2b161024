//! The `redact` component against the same redaction compiled natively.
//!
//! Like for like: the native twin is the component's own redaction code
//! (`guest-examples/rust/redact/src/redaction.rs`, included here as a
//! module), built with the same `serde_json` release and the `raw_value`
//! feature it needs on both sides. What differs is only what a component
//! is: wasm32 code compiled by Cranelift instead of x86-64 by LLVM, the
//! guest's allocator, and the call itself (the batch copied into the
//! guest's memory, the outcomes copied back).
//!
//! The call's own cost is measured beside it: the `misbehave` component in
//! its `ok` mode emits every event unchanged, so over the same batches it
//! costs the crossing (the events lowered into the guest, one record each
//! lifted back with its payload) and next to no work of its own. What the
//! `redact` component costs beyond it is its redaction running as
//! WebAssembly, which is compared with the native twin too.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use connectors::modules::digest_of;
use connectors::store::{ContentType, Position, RecordedEvent};
use connectors::wasm::{GuestIdentity, StageLimits, StageOutcome, WasmConfig, WasmHost};
use uuid::Uuid;

use super::orders::order;

#[path = "../../../guest-examples/rust/redact/src/redaction.rs"]
mod redaction;

/// Time per event of the native redaction and of the component, measured
/// over the same batches, alternating batch by batch.
#[derive(Debug, Clone, Copy)]
pub struct WasmRatio {
    pub native_us_per_event: f64,
    pub component_us_per_event: f64,
    /// The pass-through component over the same batches: the crossing.
    pub crossing_us_per_event: f64,
}

impl WasmRatio {
    /// How many times the native cost the component costs.
    pub fn ratio(&self) -> f64 {
        self.component_us_per_event / self.native_us_per_event
    }

    /// The component's cost beyond the crossing: its own code as WebAssembly.
    pub fn guest_work_us_per_event(&self) -> f64 {
        (self.component_us_per_event - self.crossing_us_per_event).max(0.0)
    }

    /// How many times the native cost the guest's own code costs as
    /// WebAssembly: the ratio a call that cost nothing would give.
    pub fn guest_work_ratio(&self) -> f64 {
        self.guest_work_us_per_event() / self.native_us_per_event
    }
}

/// The config both sides run with.
pub const REDACT_CONFIG: &str = r#"{"remove": ["card"]}"#;

/// The `n`th order as a stored event.
pub fn recorded(n: u64) -> RecordedEvent {
    RecordedEvent {
        id: Uuid::new_v4(),
        stream: "orders-1".into(),
        revision: n,
        position: Position::new(n + 1, n + 1),
        event_type: "OrderPlaced".into(),
        content_type: ContentType::Json,
        created: Utc::now(),
        data: serde_json::to_vec(&order(n)).expect("payload").into(),
        metadata: Default::default(),
    }
}

/// The bytes of `guest-examples/dist/<name>.wasm`.
pub fn example(name: &str) -> Vec<u8> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../guest-examples/dist/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); run guest-examples/build.sh",
            path.display()
        )
    })
}

/// A host with its compiled-component cache in a fresh temporary folder.
pub fn host(cache: &Path) -> WasmHost {
    WasmHost::new(WasmConfig {
        cache_dir: cache.to_owned(),
        destinations: Default::default(),
    })
    .expect("host")
}

/// The identity stages get in benchmarks.
pub fn identity() -> GuestIdentity {
    GuestIdentity {
        connector: "bench".into(),
        stage: "bench".into(),
        secrets: Vec::new(),
        counters: Default::default(),
    }
}

/// The native redaction of a batch, as the pipeline would hold its output.
fn redact_native(redaction: &redaction::Redaction, events: &[RecordedEvent]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|e| redaction.apply(&e.data).expect("json"))
        .collect()
}

/// `batches` batches of `events_per_batch` orders through the `redact`
/// component (`{"remove": ["card"]}`), through its native twin and
/// through the pass-through component, batch by batch in turn.
pub async fn component_vs_native(events_per_batch: usize, batches: usize) -> WasmRatio {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let batches: Vec<Vec<RecordedEvent>> = (0..batches)
        .map(|b| {
            (0..events_per_batch)
                .map(|i| recorded((b * events_per_batch + i) as u64))
                .collect()
        })
        .collect();

    let bytes = example("redact");
    let component = host
        .component(&digest_of(&bytes), || bytes.clone())
        .expect("component");
    let mut stage = host
        .transform(
            &component,
            identity(),
            REDACT_CONFIG.into(),
            StageLimits::default(),
        )
        .expect("stage");
    let pass_through_bytes = example("misbehave");
    let pass_through_component = host
        .component(&digest_of(&pass_through_bytes), || {
            pass_through_bytes.clone()
        })
        .expect("component");
    let mut pass_through = host
        .transform(
            &pass_through_component,
            identity(),
            r#"{"mode": "ok"}"#.into(),
            StageLimits::default(),
        )
        .expect("stage");
    let native = redaction::Redaction::from_config(REDACT_CONFIG).expect("config");
    stage.transform(&batches[0]).await.expect("warm up");
    pass_through.transform(&batches[0]).await.expect("warm up");
    redact_native(&native, &batches[0]);

    let (mut native_time, mut component_time) = (Duration::ZERO, Duration::ZERO);
    let mut crossing_time = Duration::ZERO;
    for batch in &batches {
        let start = Instant::now();
        let passed = pass_through.transform(batch).await.expect("transform");
        crossing_time += start.elapsed();
        assert_eq!(passed.len(), batch.len());
        let start = Instant::now();
        let out = redact_native(&native, batch);
        native_time += start.elapsed();
        let start = Instant::now();
        let outcomes = stage.transform(batch).await.expect("transform");
        component_time += start.elapsed();
        // Both sides did the same work.
        for (outcome, native) in outcomes.iter().zip(&out) {
            assert!(
                matches!(outcome, StageOutcome::Emit(r) if r.len() == 1 && r[0].data == *native)
            );
        }
    }
    let events = batches.iter().map(Vec::len).sum::<usize>() as f64;
    WasmRatio {
        native_us_per_event: native_time.as_secs_f64() * 1e6 / events,
        component_us_per_event: component_time.as_secs_f64() * 1e6 / events,
        crossing_us_per_event: crossing_time.as_secs_f64() * 1e6 / events,
    }
}
