//! Histogram bucket layouts, in seconds: the 1, 2.5, 5 steps of each
//! decade, spanning what the operation takes on a healthy node and on a
//! struggling one.

use prometheus_client::metrics::histogram::Histogram;

/// A request to a destination: 0.5 ms to 10 s.
pub(super) fn request() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// A transform stage's call over one batch: 50 µs to 1 s.
pub(super) fn stage_call() -> Histogram {
    Histogram::new([
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
        1.0,
    ])
}

/// A store operation (an append, a read, a checkpoint): 0.1 ms to 2.5 s.
pub(super) fn store() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ])
}
