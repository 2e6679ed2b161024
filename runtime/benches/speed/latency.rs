//! Row 6: append -> delivery latency at 1,000 events/s, per-event mode.
//!
//! A connector (per event, strict order) follows `latency-1`, live. One
//! probe event is appended and awaited at the receiver so the connector is
//! running; then an appender in this process appends one event at a time,
//! paced by a 1 ms interval, for one warm-up second plus
//! `SPEED_LATENCY_SECS`. Each event's data carries `seq` and
//! `sentAtMicros`.
//!
//! The clock starts in this process immediately before the event is built
//! and appended (the wall clock, written into its data), so it includes
//! the append's commit (an fsync), the subscription waking up, the pipeline
//! and the HTTP request; it stops in the receiver process when its handler runs, after
//! the whole request body arrived and before it answers. Both read the
//! same system wall clock. The percentiles are over the events after the
//! warm-up second (nearest rank). The row also gives the appends' own
//! percentiles (until each append was acknowledged), the part the store's
//! disk sets.

use std::time::{Duration, Instant, SystemTime};

use connectors::store::{ExpectedRevision, NewEvent};
use tokio::time::MissedTickBehavior;

use crate::context::{definition, per_event_sink, Bench, LATENCY_STREAM};
use crate::receiver::unix_micros;
use crate::support::orders::order;
use crate::table::{thousands, Row};

const ROW: &str = "6. append -> delivery latency at 1,000 events/s, per-event";
const TARGET: &str = "p99 <= 2 ms";
const RUN: &str = "latency";
const RATE: u64 = 1000;
const WARM_UP: Duration = Duration::from_secs(1);

pub async fn row(bench: &Bench) -> Row {
    let connector = definition(
        per_event_sink(bench.receiver.latency_url(RUN)),
        LATENCY_STREAM,
    );
    if let Err(refusal) = bench.api.create_connector(RUN, &connector).await {
        return Row::not_available(ROW, TARGET, refusal.to_string());
    }
    let probe_sent = Instant::now();
    append_stamped(bench, 0).await;
    if let Err(stalled) = bench
        .receiver
        .wait_for(RUN, 1, probe_sent, bench.settings.deadline)
        .await
    {
        return Row::not_available(ROW, TARGET, format!("the probe event: {stalled}"));
    }

    let warm_up = RATE * WARM_UP.as_secs();
    let total = warm_up + RATE * bench.settings.latency.as_secs();
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let started = Instant::now();
    // How long each append took until acknowledged (its commit, an fsync):
    // the part of the latency the store's disk sets.
    let mut appends: Vec<i64> = Vec::with_capacity(total as usize);
    for seq in 1..=total {
        ticks.tick().await;
        let append_started = Instant::now();
        append_stamped(bench, seq).await;
        if seq > warm_up {
            appends.push(append_started.elapsed().as_micros() as i64);
        }
    }
    appends.sort_unstable();
    let append_rate = total as f64 / started.elapsed().as_secs_f64();
    if let Err(stalled) = bench
        .receiver
        .wait_for(RUN, total + 1, started, bench.settings.deadline)
        .await
    {
        return Row::not_available(ROW, TARGET, stalled.to_string());
    }
    bench
        .api
        .delete_connector(RUN)
        .await
        .unwrap_or_else(|refusal| panic!("delete connector {RUN}: {refusal}"));

    let mut micros: Vec<i64> = bench
        .receiver
        .latencies(RUN)
        .await
        .into_iter()
        .filter(|l| l.seq > warm_up)
        .map(|l| l.micros)
        .collect();
    micros.sort_unstable();
    let Some(&max) = micros.last() else {
        return Row::not_available(ROW, TARGET, "no latencies recorded".into());
    };
    let p99 = percentile(&micros, 0.99);
    Row::measured(
        ROW,
        TARGET,
        format!(
            "p50 {}, p90 {}, p99 {}, max {} (of which the append alone: p50 {}, p99 {}; {} events after a {} s warm-up; appends paced at {:.0}/s)",
            ms(percentile(&micros, 0.50)),
            ms(percentile(&micros, 0.90)),
            ms(p99),
            ms(max),
            ms(percentile(&appends, 0.50)),
            ms(percentile(&appends, 0.99)),
            thousands(micros.len() as u64),
            WARM_UP.as_secs(),
            append_rate
        ),
        p99 <= 2_000,
    )
}

/// Appends event `seq`, stamped with the wall clock just before it is
/// built and appended.
async fn append_stamped(bench: &Bench, seq: u64) {
    let mut data = order(seq);
    data["seq"] = seq.into();
    data["sentAtMicros"] = unix_micros(SystemTime::now()).into();
    bench
        .node
        .store()
        .append(
            LATENCY_STREAM,
            ExpectedRevision::Any,
            vec![NewEvent::json("OrderPlaced", &data)],
        )
        .await
        .expect("append a stamped event");
}

/// The nearest-rank percentile of sorted values (0 for none).
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(micros: i64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}
