//! Sending one request until it is answered for good: classifying answers
//! and retrying the retryable ones with the [`RetryPolicy`].
//!
//! Each answer's status gets an action ([`super::status`]): delivered,
//! retried (honouring `Retry-After`, with a [`RetryNotice`] before each
//! wait), refused, or refused so that the connector stops. Network errors
//! and timeouts are retried. Redirects are not followed. A destination the
//! node's policy refuses stops the sink (the connector faults with the
//! reason): no other event could get through either.
//! URLs in the reasons are masked (userinfo, query values); the pipeline
//! hides the connector's secrets wherever a reason is shown or stored.
//! Every attempt is counted in the connector's metrics, by outcome and
//! class of answer, with the time to the answer.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::RETRY_AFTER;
use reqwest::{Client, Method, Response};

use super::request::PreparedRequest;
use super::status::{action_for, StatusAction, StatusActions};
use crate::metrics::{RequestClass, RequestOutcome};
use crate::outbound::client::{self as outbound, SendError};
use crate::secrets::{mask_url, mask_urls};
use crate::sinks::retry::{parse_retry_after, RetryPolicy};
use crate::sinks::{Rejection, RetryNotice, SinkContext};

/// How much of a refusing answer is kept in a [`Rejection`].
pub const RESPONSE_LIMIT: usize = 1024;
/// How much of an answer goes into an error message.
const MESSAGE_LIMIT: usize = 200;
/// How much of a successful answer is read (so the connection can be reused).
const DRAIN_LIMIT: usize = 64 * 1024;

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// The destination refused this request (a non-retryable answer).
    Refused(Rejection),
    /// Retryable failures until the retry policy gave up.
    GaveUp(Rejection),
    /// The destination policy refuses where the request goes.
    DestinationRefused(String),
}

/// What one attempt gave.
enum Attempt {
    Delivered,
    Refused(Rejection),
    DestinationRefused(String),
    Failed {
        failure: Rejection,
        retry_after: Option<Duration>,
    },
}

/// Sends requests with one client, method and retry policy.
#[derive(Clone)]
pub struct Transport {
    pub client: Client,
    pub method: Method,
    pub policy: RetryPolicy,
    pub ctx: SinkContext,
    /// The client's timeout, for error messages.
    pub timeout: Duration,
    /// `onStatus`: the actions that differ from the defaults.
    pub on_status: StatusActions,
}

impl Transport {
    /// Sends `request` the way the policy says (see the module docs).
    pub async fn send(&self, request: &PreparedRequest) -> Sent {
        let mut attempts: u32 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            match self.attempt(request).await {
                Attempt::Delivered => return Sent::Delivered,
                Attempt::Refused(rejection) => return Sent::Refused(rejection),
                Attempt::DestinationRefused(reason) => return Sent::DestinationRefused(reason),
                Attempt::Failed {
                    mut failure,
                    retry_after,
                } => {
                    if !self.policy.may_retry(attempts) {
                        failure.reason =
                            format!("gave up after {}: {}", plural(attempts), failure.reason);
                        return Sent::GaveUp(failure);
                    }
                    let wait = self.policy.wait(attempts, retry_after);
                    (self.ctx.on_retry)(RetryNotice {
                        attempt: attempts,
                        error: failure.reason,
                        wait,
                    });
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt(&self, request: &PreparedRequest) -> Attempt {
        let method = &self.method;
        let builder = self
            .client
            .request(method.clone(), request.url.clone())
            .headers(request.headers.clone())
            .body(request.body.clone());
        let started = Instant::now();
        let sent = outbound::send(&self.ctx.destinations, &request.url, builder).await;
        let took = started.elapsed();
        let response = match sent {
            Ok(response) => response,
            Err(SendError::Refused(reason)) => {
                return Attempt::DestinationRefused(format!(
                    "{method} {}: {reason}",
                    mask_url(request.url.as_str())
                ))
            }
            Err(SendError::Http(error)) => {
                let (outcome, class) = (RequestOutcome::Failed, RequestClass::TransportError);
                self.ctx.metrics.record(outcome, class, took);
                // The URL is shown masked, never as reqwest prints it.
                let error = error.without_url();
                return Attempt::Failed {
                    failure: Rejection::new(format!(
                        "{method} {} failed: {}",
                        mask_url(request.url.as_str()),
                        mask_urls(&describe(&error, self.timeout))
                    )),
                    retry_after: None,
                };
            }
        };
        let status = response.status();
        let action = action_for(status, &self.on_status);
        let outcome = match action {
            StatusAction::Deliver => RequestOutcome::Delivered,
            StatusAction::Retry => RequestOutcome::Failed,
            StatusAction::Reject | StatusAction::Fault => RequestOutcome::Refused,
        };
        let class = RequestClass::of_status(status.as_u16());
        self.ctx.metrics.record(outcome, class, took);
        if action == StatusAction::Deliver {
            drain(response).await;
            return Attempt::Delivered;
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = body_start(response).await;
        let mut reason = format!(
            "HTTP {status} from {method} {}",
            mask_url(request.url.as_str())
        );
        if !body.is_empty() {
            reason.push_str(": ");
            reason.push_str(&truncate(&body, MESSAGE_LIMIT).replace(['\r', '\n'], " "));
        }
        if action == StatusAction::Fault {
            reason.push_str(
                " (the connector stops at this answer; `sink.onStatus` chooses what each status does)",
            );
        }
        let failure = Rejection {
            reason,
            status: Some(status.as_u16()),
            response: (!body.is_empty()).then_some(body),
            stops_connector: action == StatusAction::Fault,
        };
        match action {
            StatusAction::Retry => Attempt::Failed {
                failure,
                retry_after,
            },
            _ => Attempt::Refused(failure),
        }
    }
}

/// A network error in a few words: the innermost cause says the most.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {} ms (`timeoutMs`)", timeout.as_millis());
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let mut text = lowercase_first(&cause.to_string());
    if error.is_connect() && !text.contains("connect") {
        text = format!("could not connect: {text}");
    }
    text
}

fn plural(attempts: u32) -> String {
    match attempts {
        1 => "1 attempt".into(),
        n => format!("{n} attempts"),
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Up to [`RESPONSE_LIMIT`] bytes of the answer's body, as text.
async fn body_start(mut response: Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < RESPONSE_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(RESPONSE_LIMIT);
    let text = String::from_utf8_lossy(&bytes);
    text.trim_end_matches('\u{FFFD}').trim().to_string()
}

/// Reads a successful answer so its connection goes back to the pool.
async fn drain(mut response: Response) {
    let mut read = 0;
    while read < DRAIN_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
}

fn truncate(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("hi", 10), "hi");
        assert_eq!(lowercase_first("Connection refused"), "connection refused");
    }
}
