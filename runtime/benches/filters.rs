//! What a subscription filter costs per event: prefixes, a regular
//! expression on the linear-time engine, and .NET-only expressions
//! (look-ahead, look-behind) on the backtracking engine, among them the
//! filter the official Python client sends by default.
//! Run with `cargo bench --bench filters`; results are printed as a Markdown
//! table (see docs/benchmarks.md).
//!
//! Set `BENCH_EVENTS` to change the number of events per row.

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use chrono::Utc;
use connectors::store::{
    ContentType, Matcher, Pattern, Position, RecordedEvent, SubscriptionFilter,
};
use uuid::Uuid;

/// A log of ordinary events with one system event in twenty.
fn events(count: usize) -> Vec<RecordedEvent> {
    (0..count)
        .map(|n| {
            let (stream, event_type) = match n % 20 {
                0 => (format!("$ce-orders-{n}"), "$>".to_owned()),
                1..=9 => (format!("orders-{}", n % 1000), "OrderPlaced".to_owned()),
                10..=14 => (
                    format!("orders-test-{}", n % 100),
                    "OrderShipped".to_owned(),
                ),
                _ => (
                    format!("customers-{}", n % 500),
                    "CustomerRegistered".to_owned(),
                ),
            };
            RecordedEvent {
                id: Uuid::new_v4(),
                stream,
                revision: n as u64,
                position: Position {
                    commit: n as u64,
                    prepare: n as u64,
                },
                event_type,
                content_type: ContentType::Json,
                created: Utc::now(),
                data: Default::default(),
                metadata: Default::default(),
            }
        })
        .collect()
}

fn pattern(expression: &str) -> Matcher {
    Matcher::Regex(Pattern::new(expression).expect("a valid benchmark expression"))
}

fn main() {
    let count: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let log = events(count);
    let rows: Vec<(&str, SubscriptionFilter)> = vec![
        (
            "no filter (system events excluded)",
            SubscriptionFilter::default(),
        ),
        (
            "stream prefix `orders-`",
            SubscriptionFilter {
                stream: Some(Matcher::Prefixes(vec!["orders-".to_owned()])),
                ..SubscriptionFilter::default()
            },
        ),
        (
            "stream regex `^orders-\\d+$` (linear engine)",
            SubscriptionFilter {
                stream: Some(pattern(r"^orders-\d+$")),
                ..SubscriptionFilter::default()
            },
        ),
        (
            "stream regex `^orders-(?!test-)` (look-ahead, backtracking engine)",
            SubscriptionFilter {
                stream: Some(pattern(r"^orders-(?!test-)")),
                ..SubscriptionFilter::default()
            },
        ),
        (
            "event-type regex, the Python client's default exclude (look-ahead)",
            SubscriptionFilter {
                event_type: Some(pattern(r"^(?!(\$.+$|PersistentConfig\d+$|Result$))")),
                include_system_events: true,
                ..SubscriptionFilter::default()
            },
        ),
        (
            "event-type regex `(?<=Order)Placed$` (look-behind)",
            SubscriptionFilter {
                event_type: Some(pattern(r"(?<=Order)Placed$")),
                ..SubscriptionFilter::default()
            },
        ),
    ];
    println!("| filter | events | matched | ns per event | events/s |");
    println!("|---|---|---|---|---|");
    for (name, filter) in rows {
        let started = Instant::now();
        let matched = log.iter().filter(|e| filter.matches(black_box(e))).count();
        let elapsed = started.elapsed();
        let per_event = elapsed.as_nanos() as f64 / count as f64;
        println!(
            "| {name} | {count} | {matched} | {per_event:.0} | {:.0} |",
            count as f64 / elapsed.as_secs_f64()
        );
    }
}
