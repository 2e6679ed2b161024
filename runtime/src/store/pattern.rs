//! Regular expressions as KurrentDB evaluates filters: with .NET semantics.
//!
//! Clients send .NET regular expressions (the Python client excludes system
//! events with the look-ahead `^(?!(\$.+$|PersistentConfig\d+$|Result$))`),
//! and connectors' filters run on KurrentDB itself in sidecar mode, so both
//! backends must accept what .NET accepts. A [`Pattern`] uses the `regex`
//! crate (linear time) when the expression is within its syntax, and
//! `fancy-regex` (backtracking) only for what needs it: look-ahead,
//! look-behind, backreferences, atomic groups, conditionals.
//!
//! Bounds: the expression is at most [`MAX_PATTERN_BYTES`]; a backtracking
//! match gives up after [`BACKTRACK_LIMIT`] steps, which then counts as no
//! match and is logged once per pattern. Known difference left alone: .NET's
//! `$` also matches before a final newline, Rust's only at the very end
//! (stream names and event types do not end in newlines).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The longest expression accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 32 * 1024;

/// Steps a backtracking match may take on one value (a few milliseconds at
/// most) before it gives up.
pub const BACKTRACK_LIMIT: usize = 100_000;

/// The most memory either engine may use for the compiled expression.
const COMPILED_SIZE_LIMIT: usize = 10 * 1024 * 1024;

/// A regular expression that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    #[error("the expression is {0} bytes long; the most is {MAX_PATTERN_BYTES}")]
    TooLong(usize),
    #[error("{0}")]
    Invalid(String),
}

/// A compiled regular expression, matched anywhere in a value (as the
/// server does), with .NET semantics (see the module overview).
#[derive(Clone)]
pub struct Pattern {
    engine: Engine,
    /// Set once a match has given up, so the warning is logged once.
    gave_up: Arc<AtomicBool>,
}

#[derive(Clone)]
enum Engine {
    Linear(regex::Regex),
    Backtracking(Box<fancy_regex::Regex>),
}

impl Pattern {
    pub fn new(expression: &str) -> Result<Pattern, PatternError> {
        if expression.len() > MAX_PATTERN_BYTES {
            return Err(PatternError::TooLong(expression.len()));
        }
        let linear = regex::RegexBuilder::new(expression)
            .size_limit(COMPILED_SIZE_LIMIT)
            .build();
        let engine = match linear {
            Ok(regex) => Engine::Linear(regex),
            // Only a syntax the linear engine lacks goes to the other one;
            // a compiled size over the limit stays an error.
            Err(regex::Error::Syntax(linear_error)) => Engine::Backtracking(Box::new(
                fancy_regex::RegexBuilder::new(expression)
                    .backtrack_limit(BACKTRACK_LIMIT)
                    .delegate_size_limit(COMPILED_SIZE_LIMIT)
                    .delegate_dfa_size_limit(COMPILED_SIZE_LIMIT)
                    .build()
                    .map_err(|fancy_error| {
                        tracing::debug!(%linear_error, "not within the linear engine's syntax");
                        PatternError::Invalid(fancy_error.to_string())
                    })?,
            )),
            Err(e) => return Err(PatternError::Invalid(e.to_string())),
        };
        Ok(Pattern {
            engine,
            gave_up: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The expression as given.
    pub fn as_str(&self) -> &str {
        match &self.engine {
            Engine::Linear(regex) => regex.as_str(),
            Engine::Backtracking(regex) => regex.as_str(),
        }
    }

    /// Whether the expression needs the backtracking engine.
    pub fn backtracks(&self) -> bool {
        matches!(self.engine, Engine::Backtracking(_))
    }

    /// Whether the expression matches somewhere in `value`. A backtracking
    /// match that exceeds its step limit counts as no match.
    pub fn is_match(&self, value: &str) -> bool {
        match &self.engine {
            Engine::Linear(regex) => regex.is_match(value),
            Engine::Backtracking(regex) => match regex.is_match(value) {
                Ok(matched) => matched,
                Err(e) => {
                    if !self.gave_up.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            pattern = regex.as_str(),
                            value,
                            error = %e,
                            "a filter's regular expression gave up on a value, which counts as no \
                             match; simplify the expression (this is logged once per filter)"
                        );
                    }
                    false
                }
            },
        }
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The filter the official Python client sends by default.
    const PYTHON_DEFAULT_EXCLUDE: &str = r"^(?!(\$.+$|PersistentConfig\d+$|Result$))";

    #[test]
    fn plain_expressions_use_the_linear_engine() {
        let pattern = Pattern::new(r"^orders-\d+$").expect("valid");
        assert!(!pattern.backtracks());
        assert!(pattern.is_match("orders-12"));
        assert!(!pattern.is_match("orders-x"));
        assert_eq!(pattern.as_str(), r"^orders-\d+$");
    }

    #[test]
    fn the_python_clients_default_filter_excludes_system_events() {
        let pattern = Pattern::new(PYTHON_DEFAULT_EXCLUDE).expect("valid");
        assert!(pattern.backtracks());
        assert!(pattern.is_match("OrderPlaced"));
        assert!(pattern.is_match("Results"));
        assert!(pattern.is_match("PersistentConfig"));
        assert!(!pattern.is_match("$metadata"));
        assert!(!pattern.is_match("$>"));
        assert!(!pattern.is_match("PersistentConfig1"));
        assert!(!pattern.is_match("Result"));
    }

    #[test]
    fn look_behind_and_backreferences_work() {
        let behind = Pattern::new(r"(?<=orders-)\d+").expect("valid");
        assert!(behind.is_match("orders-7"));
        assert!(!behind.is_match("order-7"));
        let repeated = Pattern::new(r"^(\w+)-\1$").expect("valid");
        assert!(repeated.is_match("abc-abc"));
        assert!(!repeated.is_match("abc-abd"));
        let atomic = Pattern::new(r"^(?>a+)b").expect("valid");
        assert!(atomic.is_match("aaab"));
    }

    #[test]
    fn matches_anywhere_as_the_server_does() {
        let pattern = Pattern::new("Placed").expect("valid");
        assert!(pattern.is_match("OrderPlaced"));
        let ahead = Pattern::new(r"Order(?=Placed)").expect("valid");
        assert!(ahead.is_match("NewOrderPlaced"));
        assert!(!ahead.is_match("OrderShipped"));
    }

    #[test]
    fn invalid_expressions_say_why() {
        let error = Pattern::new(r"(?<=a+").expect_err("unbalanced").to_string();
        assert!(!error.is_empty());
        assert!(matches!(
            Pattern::new("(unclosed"),
            Err(PatternError::Invalid(_))
        ));
    }

    #[test]
    fn long_expressions_are_refused() {
        let long = "a".repeat(MAX_PATTERN_BYTES + 1);
        assert!(matches!(
            Pattern::new(&long),
            Err(PatternError::TooLong(n)) if n == MAX_PATTERN_BYTES + 1
        ));
    }

    #[test]
    fn catastrophic_backtracking_gives_up_as_no_match() {
        // Each repetition may take either branch (the look-ahead forces
        // the backtracking engine): exponential on a value that almost
        // matches.
        let pattern = Pattern::new(r"^(?:(?=a)a|a)*b$").expect("valid");
        assert!(pattern.backtracks());
        let hostile = format!("{}!", "a".repeat(64));
        assert!(!pattern.is_match(&hostile));
        assert!(
            pattern.gave_up.load(Ordering::Relaxed),
            "the step limit ended the match"
        );
        // Giving up once does not stop later values from matching.
        assert!(pattern.is_match("aaaab"));
    }
}
