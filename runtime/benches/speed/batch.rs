//! Rows 1 and 2: batch delivery on the embedded node.
//!
//! 1. The store's raw `$all` read rate (the whole log forwards in pages of
//!    1,000 through the store trait, as a subscription catching up reads
//!    it), then a connector delivering the `SPEED_EVENTS` orders in HTTP
//!    batches of 1,000 with no transform; its rate against the raw rate.
//!    Beside each rate, the CPU time this process (the node; the receiver
//!    is another process) spent per event: steadier than a rate on a
//!    shared machine.
//! 2. The same connector with the `redact` component
//!    (`{"remove": ["card"]}`) as its one transform, against row 1's rate.

use std::path::Path;
use std::time::Instant;

use connectors::store::EventStore;
use serde_json::json;

use crate::context::{batch_sink, definition, Bench, NoRate, ORDERS};
use crate::support::cpu::own_cpu_seconds;
use crate::support::read_whole_all;
use crate::table::{rate, ratio, thousands, Row};

const ROW_1: &str = "1. batch of 1,000, no transform, embedded";
const TARGET_1: &str = ">= 300,000 events/s and >= 0.5x the raw `$all` read rate";
const ROW_2: &str = "2. batch of 1,000, `redact` component";
const TARGET_2: &str = ">= 0.8x row 1";

/// Row 1's rate, when it was measured.
pub struct BatchRows {
    pub rows: Vec<Row>,
    pub no_transform: Option<f64>,
}

/// Row 1, and row 2 when `with_redact`.
pub async fn rows(bench: &Bench, with_redact: bool) -> BatchRows {
    let events = bench.settings.events;
    let read_cpu = own_cpu_seconds();
    let (read, read_rate) = raw_read_rate(bench.node.store().as_ref()).await;
    let read_cpu = cpu_us_per_event(own_cpu_seconds() - read_cpu, read);
    let delivery_cpu = own_cpu_seconds();
    let plain = bench
        .deliver(
            &bench.api,
            "batch",
            definition(batch_sink(bench.receiver.url("batch")), ORDERS),
            events,
        )
        .await;
    let delivery_cpu = cpu_us_per_event(own_cpu_seconds() - delivery_cpu, events);
    let row_1 = match &plain {
        Ok(delivered) => {
            let share = delivered / read_rate;
            Row::measured(
                ROW_1,
                TARGET_1,
                format!(
                    "{} ({} events, the node's CPU {delivery_cpu:.2} us/event); raw `$all` read {} ({} events, {read_cpu:.2} us/event); {}",
                    rate(*delivered),
                    thousands(events),
                    rate(read_rate),
                    thousands(read),
                    ratio(share)
                ),
                *delivered >= 300_000.0 && share >= 0.5,
            )
        }
        Err(NoRate(why)) => Row::not_available(ROW_1, TARGET_1, why.clone()),
    };
    let mut rows = vec![row_1];
    if with_redact {
        rows.push(redact_row(bench, plain.as_ref().ok().copied()).await);
    }
    BatchRows {
        rows,
        no_transform: plain.ok(),
    }
}

async fn redact_row(bench: &Bench, no_transform: Option<f64>) -> Row {
    let component = match redact_component() {
        Ok(component) => component,
        Err(why) => return Row::not_available(ROW_2, TARGET_2, why),
    };
    if let Err(refusal) = bench.api.upload_module("redact", component).await {
        return Row::not_available(ROW_2, TARGET_2, format!("upload refused: {refusal}"));
    }
    let mut connector = definition(batch_sink(bench.receiver.url("redact")), ORDERS);
    connector["transforms"] = json!([{ "module": "redact", "config": { "remove": ["card"] } }]);
    let events = bench.settings.events;
    match (
        bench.deliver(&bench.api, "redact", connector, events).await,
        no_transform,
    ) {
        (Ok(redacted), Some(plain)) => {
            let share = redacted / plain;
            Row::measured(
                ROW_2,
                TARGET_2,
                format!(
                    "{} ({} events); {}",
                    rate(redacted),
                    thousands(events),
                    ratio(share)
                ),
                share >= 0.8,
            )
        }
        (Ok(redacted), None) => Row::not_available(
            ROW_2,
            TARGET_2,
            format!("{} but no row 1 to compare with", rate(redacted)),
        ),
        (Err(NoRate(why)), _) => Row::not_available(ROW_2, TARGET_2, why),
    }
}

/// Reads the whole `$all` forwards in pages of 1,000: events read, per second.
async fn raw_read_rate(store: &dyn EventStore) -> (u64, f64) {
    let start = Instant::now();
    let read = read_whole_all(store).await;
    (read, read as f64 / start.elapsed().as_secs_f64())
}

/// CPU microseconds per event of `seconds` of this process's CPU: the node
/// and the bench (the receiver is another process).
fn cpu_us_per_event(seconds: f64, events: u64) -> f64 {
    seconds * 1e6 / events.max(1) as f64
}

/// The built `redact` component (`guest-examples/build.sh redact`).
fn redact_component() -> Result<Vec<u8>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-examples/dist/redact.wasm");
    std::fs::read(&path).map_err(|e| {
        format!(
            "{} is missing ({e}); run guest-examples/build.sh redact",
            path.display()
        )
    })
}
