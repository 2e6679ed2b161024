//! Row 4: per-event delivery of row 4's events (100 interleaved streams) to
//! a receiver that holds every request for 1 ms, in strict log order (the
//! default: one request in flight) and then with
//! `"ordering": {"by": "stream", "concurrency": 16}` (each stream in order,
//! up to 16 requests in flight). A node that does not know `ordering`
//! refuses the second connector; the row then shows the API's message.

use std::time::Duration;

use serde_json::json;

use crate::context::{definition, per_event_sink, Bench, NoRate, KEYED};
use crate::table::{rate, ratio, thousands, Row};
use crate::workload::keyed_total;

const ROW: &str = "4. per-event, 100 streams, 1 ms receiver: by stream (16 in flight) vs strict";
const TARGET: &str = ">= 5x strict";
/// How long the receiver holds each request.
pub const SERVICE_TIME: Duration = Duration::from_millis(1);
const CONCURRENCY: u64 = 16;

pub async fn row(bench: &Bench) -> Row {
    let events = keyed_total(&bench.settings);
    let strict = bench
        .deliver(
            &bench.api,
            "strict",
            definition(
                per_event_sink(bench.receiver.slow_url("strict", SERVICE_TIME)),
                KEYED,
            ),
            events,
        )
        .await;
    let strict = match strict {
        Ok(strict) => strict,
        Err(NoRate(why)) => return Row::not_available(ROW, TARGET, format!("strict: {why}")),
    };
    let mut by_stream = definition(
        per_event_sink(bench.receiver.slow_url("by-stream", SERVICE_TIME)),
        KEYED,
    );
    by_stream["ordering"] = json!({ "by": "stream", "concurrency": CONCURRENCY });
    match bench
        .deliver(&bench.api, "by-stream", by_stream, events)
        .await
    {
        Ok(parallel) => Row::measured(
            ROW,
            TARGET,
            format!(
                "by stream {} vs strict {} ({} events); {}",
                rate(parallel),
                rate(strict),
                thousands(events),
                ratio(parallel / strict)
            ),
            parallel / strict >= 5.0,
        ),
        Err(NoRate(why)) => Row::not_available(
            ROW,
            TARGET,
            format!("strict {}; by stream: {why}", rate(strict)),
        ),
    }
}
