//! Histogram bucket layouts, in seconds. Each spans what its operation
//! takes on a healthy node and on a struggling one, a factor of 2.5 apart.

use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

/// A request to a destination: 0.5 ms to 12 s.
pub(super) fn request() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.5, 12))
}

/// A transform stage's call over one batch: 50 µs to 1.2 s.
pub(super) fn stage_call() -> Histogram {
    Histogram::new(exponential_buckets(0.00005, 2.5, 12))
}

/// A store operation (an append, a read, a checkpoint): 0.1 ms to 2.4 s.
pub(super) fn store() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.5, 12))
}
