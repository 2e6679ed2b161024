//! Sizes of a run, from the environment (see the overview in `main.rs`).

use std::time::Duration;

pub struct Settings {
    /// `SPEED_EVENTS`: the orders the batch rows deliver (1, 2, 5, and the
    /// batch half of 8).
    pub events: u64,
    /// `SPEED_SINGLE_EVENTS`: the events the per-event half of row 8
    /// delivers, once by this runtime and once by the Node.js script.
    pub single_events: u64,
    /// `SPEED_KEYED_EVENTS`: the events of row 4, over 100 streams.
    pub keyed_events: u64,
    /// `SPEED_LATENCY_SECS`: how long row 6 appends at 1,000 events/s
    /// (after its warm-up second).
    pub latency: Duration,
    /// `SPEED_DEADLINE_SECS`: how long one delivery may take before its row
    /// says it stalled.
    pub deadline: Duration,
    /// `SPEED_ROWS`: the rows to run (e.g. `1,5`); all when unset.
    pub rows: Option<Vec<u8>>,
}

impl Settings {
    pub fn from_env() -> Settings {
        let number = |name: &str, default: u64| -> u64 {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(default)
        };
        Settings {
            events: number("SPEED_EVENTS", 200_000),
            single_events: number("SPEED_SINGLE_EVENTS", 10_000),
            keyed_events: number("SPEED_KEYED_EVENTS", 5_000),
            latency: Duration::from_secs(number("SPEED_LATENCY_SECS", 10)),
            deadline: Duration::from_secs(number("SPEED_DEADLINE_SECS", 600)),
            rows: std::env::var("SPEED_ROWS").ok().map(|rows| {
                rows.split(',')
                    .filter_map(|row| row.trim().parse().ok())
                    .collect()
            }),
        }
    }

    /// Whether this run measures row `row`.
    pub fn wants(&self, row: u8) -> bool {
        self.rows.as_ref().is_none_or(|rows| rows.contains(&row))
    }
}
