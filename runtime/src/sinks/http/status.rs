//! What the HTTP sink does with each answer's status: the defaults and the
//! `onStatus` setting that overrides them per status or per class.
//!
//! | answer | default |
//! |---|---|
//! | 2xx | `deliver` |
//! | 5xx, 408, 429 | `retry` (with the retry policy, honouring `Retry-After`) |
//! | 401, 403, 407 | `fault`: the destination refuses the credentials, so every later event would be refused too; the connector stops with the answer in `lastError` instead of dead-lettering its whole backlog |
//! | any other (3xx, 4xx) | `reject`: the event is refused for good and dead-lettered, or faults the connector, as `onFailure` says |
//!
//! `onStatus` maps a status (`"404"`) or a class (`"4xx"`) to one of these
//! actions; a status wins over its class, a class over the defaults.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::sinks::ConfigError;

/// What to do with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusAction {
    /// The event was delivered.
    Deliver,
    /// Try again later, with the retry policy.
    Retry,
    /// The event is refused for good: dead-lettered or faulting, as
    /// `onFailure` says.
    Reject,
    /// Stop the connector now, whatever `onFailure` says; the event stays
    /// undelivered and is sent again when the connector is enabled.
    Fault,
}

/// `onStatus`: actions chosen per status (`"401"`) or class (`"4xx"`).
pub type StatusActions = BTreeMap<String, StatusAction>;

/// The action for `status` under `overrides` (see the module docs).
pub fn action_for(status: StatusCode, overrides: &StatusActions) -> StatusAction {
    let code = status.as_u16();
    if let Some(action) = overrides.get(&code.to_string()) {
        return *action;
    }
    if let Some(action) = overrides.get(&format!("{}xx", code / 100)) {
        return *action;
    }
    default_action(status)
}

/// The action without `onStatus`.
pub fn default_action(status: StatusCode) -> StatusAction {
    if status.is_success() {
        StatusAction::Deliver
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        StatusAction::Retry
    } else if matches!(
        status,
        StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::PROXY_AUTHENTICATION_REQUIRED
    ) {
        StatusAction::Fault
    } else {
        StatusAction::Reject
    }
}

/// Checks that every key of `onStatus` is a status or a class.
pub fn validate(overrides: &StatusActions) -> Result<(), ConfigError> {
    for key in overrides.keys() {
        if !is_status_key(key) {
            return Err(ConfigError::new(
                format!("sink.onStatus.{key}"),
                "must be an HTTP status from 100 to 599 or a class from `1xx` to `5xx`, \
                 e.g. `{\"401\": \"reject\", \"4xx\": \"fault\"}`",
            ));
        }
    }
    Ok(())
}

fn is_status_key(key: &str) -> bool {
    matches!(
        key.as_bytes(),
        [b'1'..=b'5', b'x', b'x'] | [b'1'..=b'5', b'0'..=b'9', b'0'..=b'9']
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).expect("status")
    }

    #[test]
    fn defaults() {
        assert_eq!(default_action(status(204)), StatusAction::Deliver);
        for code in [500, 502, 503, 504, 408, 429] {
            assert_eq!(default_action(status(code)), StatusAction::Retry, "{code}");
        }
        for code in [401, 403, 407] {
            assert_eq!(default_action(status(code)), StatusAction::Fault, "{code}");
        }
        for code in [301, 302, 400, 404, 409, 413, 422] {
            assert_eq!(default_action(status(code)), StatusAction::Reject, "{code}");
        }
    }

    #[test]
    fn a_status_wins_over_its_class_and_a_class_over_the_default() {
        let overrides: StatusActions = [
            ("4xx".to_owned(), StatusAction::Fault),
            ("404".to_owned(), StatusAction::Deliver),
            ("401".to_owned(), StatusAction::Reject),
        ]
        .into();
        assert_eq!(action_for(status(404), &overrides), StatusAction::Deliver);
        assert_eq!(action_for(status(401), &overrides), StatusAction::Reject);
        assert_eq!(action_for(status(422), &overrides), StatusAction::Fault);
        assert_eq!(action_for(status(503), &overrides), StatusAction::Retry);
    }

    #[test]
    fn keys_are_statuses_or_classes() {
        for good in ["100", "404", "599", "1xx", "4xx", "5xx"] {
            assert!(is_status_key(good), "{good}");
        }
        for bad in [
            "", "4", "40", "4040", "600", "099", "6xx", "4XX", "x4x", "abc",
        ] {
            let overrides: StatusActions = [(bad.to_owned(), StatusAction::Retry)].into();
            let error = validate(&overrides).expect_err(bad);
            assert_eq!(error.field, format!("sink.onStatus.{bad}"));
        }
    }
}
