//! The runtime's one back-off for its own retries: waits that double from a
//! first wait to a cap, each jittered (0.8 to 1.2 times), so members and
//! connectors that fail together do not retry in step. Resubscribing,
//! retrying a stage, writing a dead letter, following the cluster's streams
//! and waiting for a store at start all use it. A sink's delivery retries
//! follow the connector's own `retry` settings instead (`sinks::retry`).

use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;

/// Doubling, capped, jittered waits.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Waits from `first`, doubling up to `max`.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The next wait, jittered; the one after is twice as long, up to the cap.
    pub fn next_wait(&mut self) -> Duration {
        let wait = jitter(self.next);
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// Back to the first wait, after a success.
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// Sleeps the next wait; `false` when `cancel` fired first.
    pub async fn sleep_or_cancel(&mut self, cancel: &CancellationToken) -> bool {
        let wait = self.next_wait();
        tokio::select! {
            _ = cancel.cancelled() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }
}

/// `delay` times a random factor from 0.8 to 1.2.
pub fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(rand::rng().random_range(0.8..1.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let waits: Vec<Duration> = (0..4).map(|_| backoff.next_wait()).collect();
        for (wait, nominal) in waits.iter().zip([100, 200, 350, 350]) {
            let nominal = Duration::from_millis(nominal);
            assert!(
                *wait >= nominal.mul_f64(0.8) && *wait <= nominal.mul_f64(1.2),
                "{wait:?} is not within 20% of {nominal:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_wait() <= Duration::from_millis(120));
    }
}
