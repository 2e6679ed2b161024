//! Rows 3 and 7, measured by code the other benchmarks share: each is a
//! function that returns the row's value and whether it met the target, or
//! `None` while nothing is wired to it; the row then says so rather than
//! print a number.

use crate::context::Bench;
use crate::support::scale::{measure_scale, ScaleSettings};
use crate::support::wasm_ratio;
use crate::table::Row;

const ROW_3: &str = "3. `redact` component vs the same logic compiled natively";
const TARGET_3: &str = "<= 1.3x, like for like";
const ROW_7: &str = "7. 200 connectors, each with a WASM transform, on one node";
const TARGET_7: &str =
    "<= 400 MB RSS; idle < 2% CPU, no appends beyond heartbeats; all delivering within 10 s";

/// What a hook measured: the row's value (say what differs between the
/// two sides, where that applies) and whether it met the target.
pub struct Measured {
    pub value: String,
    pub met: bool,
}

/// Row 3: the component's cost per event over the native code's, like for
/// like: the guest's own redaction code compiled natively, with the same
/// `serde_json` release and features (`support::wasm_ratio`, shared with
/// the `wasm` benchmark), over the same batches of 100 and of 1,000; with
/// the crossing (a pass-through component over the same batches) and the
/// guest's own work (the rest) apart.
pub async fn component_vs_native(_bench: &Bench) -> Option<Measured> {
    let of_100 = wasm_ratio::component_vs_native(100, 200).await;
    let of_1000 = wasm_ratio::component_vs_native(1000, 20).await;
    let describe = |ratio: &wasm_ratio::WasmRatio| {
        format!(
            "{:.2}x ({:.2} vs {:.2} us/event: the call's crossing {:.2}, the guest's own work {:.2}, {:.2}x native)",
            ratio.ratio(),
            ratio.component_us_per_event,
            ratio.native_us_per_event,
            ratio.crossing_us_per_event,
            ratio.guest_work_us_per_event(),
            ratio.guest_work_ratio()
        )
    };
    Some(Measured {
        value: format!(
            "batches of 100: {}; batches of 1,000: {}. Differs: Cranelift vs LLVM, the guest's allocator vs glibc's, and the call's copies in and out",
            describe(&of_100),
            describe(&of_1000)
        ),
        met: of_100.ratio() <= 1.3 && of_1000.ratio() <= 1.3,
    })
}

/// Row 7: 200 connectors with a WebAssembly transform on one node: RSS,
/// idle CPU and store appends, and the time until all deliver; measured on
/// the release binary as a child process (`support::scale`, the `idle`
/// benchmark's measurement; its `IDLE_*` variables apply).
pub async fn two_hundred_connectors(_bench: &Bench) -> Option<Measured> {
    let report = measure_scale(ScaleSettings::from_env()).await;
    // 400 MB is 381.5 MiB.
    let met = report.rss_mib * 1.048_576 <= 400.0
        && report.idle_cpu_percent < 2.0
        && report.idle_non_heartbeat_appends_per_second == 0.0
        && report.all_delivering_seconds <= 10.0;
    Some(Measured {
        value: format!(
            "{} connectors: RSS {:.0} MiB; idle {:.1}% CPU, {:.2} appends/s beyond heartbeats; all delivering {:.1} s after the first create, all {} events each delivered {:.1} s",
            report.connectors,
            report.rss_mib,
            report.idle_cpu_percent,
            report.idle_non_heartbeat_appends_per_second,
            report.all_delivering_seconds,
            report.events_each,
            report.all_delivered_seconds
        ),
        met,
    })
}

pub async fn row_3(bench: &Bench) -> Row {
    row(
        ROW_3,
        TARGET_3,
        "component_vs_native",
        component_vs_native(bench).await,
    )
}

pub async fn row_7(bench: &Bench) -> Row {
    row(
        ROW_7,
        TARGET_7,
        "two_hundred_connectors",
        two_hundred_connectors(bench).await,
    )
}

fn row(what: &'static str, target: &'static str, hook: &str, measured: Option<Measured>) -> Row {
    match measured {
        Some(Measured { value, met }) => Row::measured(what, target, value, met),
        None => Row::not_available(
            what,
            target,
            format!("not measured by this binary yet (`hooks::{hook}` returns nothing)"),
        ),
    }
}
