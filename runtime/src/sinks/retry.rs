//! How sinks retry retryable failures: capped exponential back-off with
//! jitter, an optional attempt limit, and the destination's `Retry-After`.
//!
//! Attempts are counted from the first try: with `maxAttempts: 3` a request is
//! tried once and retried twice. Without `maxAttempts` a sink retries forever
//! (the connector's status shows each retry), which is what at-least-once
//! delivery wants when the destination is only down for a while.
//!
//! The wait before retry `n` (1 for the first retry) is the runtime's one
//! [`Backoff`]: `min(maxBackoffMs, initialBackoffMs * multiplier^(n-1))`
//! with *equal jitter*, half of it fixed, the other half random, so many
//! connectors retrying against the same destination spread out without
//! ever retrying immediately.
//!
//! A `Retry-After` from the destination (delay in seconds or an HTTP date)
//! replaces the computed wait. It is honoured even above `maxBackoffMs` (the
//! destination knows best) but capped at [`MAX_RETRY_AFTER`] so a wrong header
//! cannot stall a connector for hours, and raised to `initialBackoffMs` so a
//! `Retry-After: 0` cannot make the sink hammer the destination.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::backoff::Backoff;

/// The longest `Retry-After` a sink honours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

fn default_initial_backoff_ms() -> u64 {
    100
}

fn default_max_backoff_ms() -> u64 {
    30_000
}

fn default_multiplier() -> f64 {
    2.0
}

/// How a sink retries retryable failures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryConfig {
    /// The wait before the first retry, in milliseconds (before jitter).
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// The longest wait between two attempts, in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// How much the wait grows after each retry (at least 1).
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    /// How many attempts (the first try included) before the events are
    /// rejected with the last error; absent = retry forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            multiplier: default_multiplier(),
            max_attempts: None,
        }
    }
}

impl RetryConfig {
    /// Checks the settings; `path` is where they sit, e.g. `sink.retry`.
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        if self.initial_backoff_ms == 0 {
            return Err(ConfigError::new(
                format!("{path}.initialBackoffMs"),
                "must be at least 1 millisecond, e.g. `100`",
            ));
        }
        if self.max_backoff_ms < self.initial_backoff_ms {
            return Err(ConfigError::new(
                format!("{path}.maxBackoffMs"),
                format!(
                    "must be at least `initialBackoffMs` ({}), e.g. `30000`",
                    self.initial_backoff_ms
                ),
            ));
        }
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return Err(ConfigError::new(
                format!("{path}.multiplier"),
                "must be a number of at least 1, e.g. `2.0`",
            ));
        }
        if self.max_attempts == Some(0) {
            return Err(ConfigError::new(
                format!("{path}.maxAttempts"),
                "must be at least 1 (the first try counts), e.g. `10`; leave it out to retry forever",
            ));
        }
        Ok(())
    }
}

/// A [`RetryConfig`] in use: the runtime's [`Backoff`] with the
/// connector's settings, an attempt limit and the destination's
/// `Retry-After`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    backoff: Backoff,
    max_attempts: Option<u32>,
}

impl RetryPolicy {
    pub fn new(config: &RetryConfig) -> Self {
        Self {
            backoff: Backoff::new(
                Duration::from_millis(config.initial_backoff_ms),
                Duration::from_millis(config.max_backoff_ms),
            )
            .with_multiplier(config.multiplier),
            max_attempts: config.max_attempts,
        }
    }

    /// Whether another attempt may follow `attempts_made` failed ones.
    pub fn may_retry(&self, attempts_made: u32) -> bool {
        self.max_attempts.is_none_or(|max| attempts_made < max)
    }

    /// The capped exponential wait before retry `attempt` (1 for the first
    /// retry), without jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.backoff.ceiling(attempt)
    }

    /// The wait before retry `attempt` with the random part of its jitter
    /// given (`0.0..=1.0`): between half the [`ceiling`](Self::ceiling)
    /// and all of it.
    pub fn backoff_with(&self, attempt: u32, jitter: f64) -> Duration {
        self.backoff.wait_with(attempt, jitter)
    }

    /// The wait before retry `attempt`, honouring the destination's
    /// `Retry-After` when it gave one (see the module docs for the bounds).
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(after) => after.clamp(self.backoff.first().min(MAX_RETRY_AFTER), MAX_RETRY_AFTER),
            None => self.backoff.wait(attempt),
        }
    }
}

/// Reads a `Retry-After` value: a delay in seconds or an HTTP date (a date in
/// the past means no delay). `None` when it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(initial: u64, max: u64, multiplier: f64, attempts: Option<u32>) -> RetryPolicy {
        RetryPolicy::new(&RetryConfig {
            initial_backoff_ms: initial,
            max_backoff_ms: max,
            multiplier,
            max_attempts: attempts,
        })
    }

    #[test]
    fn defaults_are_named_and_applied() {
        let config: RetryConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, RetryConfig::default());
        assert_eq!(config.initial_backoff_ms, 100);
        assert_eq!(config.max_backoff_ms, 30_000);
        assert_eq!(config.multiplier, 2.0);
        assert_eq!(config.max_attempts, None);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = serde_json::from_str::<RetryConfig>(r#"{"maxRetries":3}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `maxRetries`"),
            "{error}"
        );
    }

    #[test]
    fn ceiling_grows_exponentially_and_is_capped() {
        let p = policy(100, 1_000, 2.0, None);
        let ceilings: Vec<u64> = (1..=6).map(|a| p.ceiling(a).as_millis() as u64).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_millis(1_000));
        assert_eq!(p.ceiling(0), Duration::from_millis(100));
        let flat = policy(50, 1_000, 1.0, None);
        assert_eq!(flat.ceiling(30), Duration::from_millis(50));
    }

    #[test]
    fn jitter_stays_between_half_and_full_ceiling() {
        let p = policy(100, 30_000, 2.0, None);
        assert_eq!(p.backoff_with(3, 0.0), Duration::from_millis(200));
        assert_eq!(p.backoff_with(3, 1.0), Duration::from_millis(400));
        assert_eq!(p.backoff_with(3, 0.5), Duration::from_millis(300));
        for attempt in 1..20 {
            let wait = p.wait(attempt, None);
            let ceiling = p.ceiling(attempt);
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "{wait:?} vs {ceiling:?}"
            );
        }
    }

    #[test]
    fn attempts_are_counted_from_the_first_try() {
        let p = policy(1, 1, 1.0, Some(3));
        assert!(p.may_retry(1));
        assert!(p.may_retry(2));
        assert!(!p.may_retry(3));
        assert!(policy(1, 1, 1.0, None).may_retry(u32::MAX));
    }

    #[test]
    fn retry_after_replaces_the_backoff_within_bounds() {
        let p = policy(100, 1_000, 2.0, None);
        assert_eq!(
            p.wait(1, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(p.wait(1, Some(Duration::from_secs(3_600))), MAX_RETRY_AFTER);
        assert_eq!(p.wait(1, Some(Duration::ZERO)), Duration::from_millis(100));
        assert!(p.wait(1, None) <= Duration::from_millis(100));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn validation_names_the_field() {
        let bad = |config: RetryConfig| config.validate("sink.retry").unwrap_err().field;
        let ok = RetryConfig::default();
        assert_eq!(ok.validate("sink.retry"), Ok(()));
        assert_eq!(
            bad(RetryConfig {
                initial_backoff_ms: 0,
                ..ok.clone()
            }),
            "sink.retry.initialBackoffMs"
        );
        assert_eq!(
            bad(RetryConfig {
                max_backoff_ms: 10,
                ..ok.clone()
            }),
            "sink.retry.maxBackoffMs"
        );
        assert_eq!(
            bad(RetryConfig {
                multiplier: 0.5,
                ..ok.clone()
            }),
            "sink.retry.multiplier"
        );
        assert_eq!(
            bad(RetryConfig {
                multiplier: f64::NAN,
                ..ok.clone()
            }),
            "sink.retry.multiplier"
        );
        assert_eq!(
            bad(RetryConfig {
                max_attempts: Some(0),
                ..ok
            }),
            "sink.retry.maxAttempts"
        );
    }
}
