//! The runtime's one back-off: waits that grow by a multiplier (2 unless
//! set) from a first wait to a cap, each with *equal jitter* (half of it
//! fixed, the other half random), so members and connectors that fail
//! together spread out without ever retrying at once. Resubscribing,
//! retrying a stage, writing a dead letter, following the cluster's streams
//! and waiting for a store at start use it with fixed settings; a sink's
//! delivery retries use it with the connector's `retry` settings
//! (`sinks::retry`).

use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;

/// Growing, capped, jittered waits.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    multiplier: f64,
    /// Waits taken since the last reset.
    taken: u32,
}

impl Backoff {
    /// Waits from `first`, doubling up to `max`.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            multiplier: 2.0,
            taken: 0,
        }
    }

    /// The same, growing by `multiplier` (at least 1) instead of 2.
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// The first wait.
    pub fn first(&self) -> Duration {
        self.first
    }

    /// The wait before retry `attempt` (1 for the first retry), without
    /// jitter: `min(max, first * multiplier^(attempt - 1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        // Past 64 steps every sane setting is at its cap anyway.
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let millis = self.first.as_millis() as f64 * self.multiplier.powi(exponent);
        let max = self.max.as_millis() as f64;
        Duration::from_millis(millis.min(max) as u64)
    }

    /// The wait before retry `attempt`, jittered: between half the
    /// [`ceiling`](Self::ceiling) and all of it.
    pub fn wait(&self, attempt: u32) -> Duration {
        self.wait_with(attempt, rand::rng().random_range(0.0..=1.0))
    }

    /// [`wait`](Self::wait) with the random part given (`0.0..=1.0`).
    pub fn wait_with(&self, attempt: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        half + (ceiling - half).mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// The next wait; the one after is longer, up to the cap.
    pub fn next_wait(&mut self) -> Duration {
        self.taken = self.taken.saturating_add(1);
        self.wait(self.taken)
    }

    /// Back to the first wait, after a success.
    pub fn reset(&mut self) {
        self.taken = 0;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_up_to_the_cap_with_equal_jitter_and_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let waits: Vec<Duration> = (0..4).map(|_| backoff.next_wait()).collect();
        for (wait, nominal) in waits.iter().zip([100, 200, 350, 350]) {
            let nominal = Duration::from_millis(nominal);
            assert!(
                *wait >= nominal / 2 && *wait <= nominal,
                "{wait:?} is not between half of {nominal:?} and all of it"
            );
        }
        backoff.reset();
        assert!(backoff.next_wait() <= Duration::from_millis(100));
    }

    #[test]
    fn the_multiplier_sets_the_growth_and_jitter_is_half_fixed() {
        let backoff =
            Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).with_multiplier(3.0);
        let ceilings: Vec<u128> = (1..=4).map(|a| backoff.ceiling(a).as_millis()).collect();
        assert_eq!(ceilings, vec![100, 300, 900, 1000]);
        assert_eq!(backoff.wait_with(2, 0.0), Duration::from_millis(150));
        assert_eq!(backoff.wait_with(2, 1.0), Duration::from_millis(300));
        let flat =
            Backoff::new(Duration::from_millis(50), Duration::from_secs(1)).with_multiplier(0.5);
        assert_eq!(flat.ceiling(30), Duration::from_millis(50));
    }
}
