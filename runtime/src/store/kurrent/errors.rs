//! Mapping the client's errors to [`StoreError`]s. The statuses of the
//! calls this backend makes itself (`$all` subscriptions) are first read as
//! the client reads them (`kurrentdb::Error::from_grpc`), so both map alike.
//!
//! - wrong expected version -> [`StoreError::WrongExpectedRevision`] (for
//!   appends the server says where the stream is; for deletes and tombstones
//!   it only says so in the status message, "... Actual version: N", which
//!   [`actual_version`] parses);
//! - deleted (tombstoned) -> [`StoreError::StreamDeleted`], missing ->
//!   [`StoreError::StreamNotFound`];
//! - the server refusing the request's arguments -> [`StoreError::InvalidRequest`];
//! - access denied (wrong credentials, missing permission) ->
//!   [`StoreError::Unavailable`] with a message starting "access denied": the
//!   request itself was fine (so not `InvalidRequest`), and it may succeed once
//!   the credentials or ACLs are fixed;
//! - everything else (connection, deadline, server errors) ->
//!   [`StoreError::Unavailable`] with the client's message.

use kurrentdb::Error;
use tonic::Code;

use crate::store::{CurrentRevision, ExpectedRevision, StoreError};

/// What the failed operation was about, for the error.
#[derive(Clone, Copy)]
pub(super) struct Context<'a> {
    pub operation: &'static str,
    pub stream: Option<&'a str>,
    pub expected: ExpectedRevision,
}

impl<'a> Context<'a> {
    pub fn stream(operation: &'static str, stream: &'a str, expected: ExpectedRevision) -> Self {
        Self {
            operation,
            stream: Some(stream),
            expected,
        }
    }

    pub fn all(operation: &'static str) -> Self {
        Self {
            operation,
            stream: None,
            expected: ExpectedRevision::Any,
        }
    }

    fn stream_name(&self) -> String {
        self.stream.unwrap_or("$all").to_owned()
    }
}

/// Maps a client error. A wrong expected version reported only in a status
/// message without a parsable actual version maps to
/// `WrongExpectedRevision { current: NoStream }`; callers that can find out
/// better use [`is_wrong_expected_version`] first.
pub(super) fn store_error(error: Error, ctx: Context<'_>) -> StoreError {
    match error {
        Error::WrongExpectedVersion { current, .. } => StoreError::WrongExpectedRevision {
            stream: ctx.stream_name(),
            expected: ctx.expected,
            current: match current {
                kurrentdb::CurrentRevision::Current(revision) => CurrentRevision::Current(revision),
                kurrentdb::CurrentRevision::NoStream => CurrentRevision::NoStream,
            },
        },
        Error::Grpc { ref message, .. } if is_wrong_expected_version(&error) => {
            StoreError::WrongExpectedRevision {
                stream: ctx.stream_name(),
                expected: ctx.expected,
                current: actual_version(message).unwrap_or(CurrentRevision::NoStream),
            }
        }
        Error::ResourceNotFound => match ctx.stream {
            Some(stream) => StoreError::StreamNotFound(stream.to_owned()),
            None => StoreError::Unavailable(format!("{}: not found", ctx.operation)),
        },
        Error::ResourceDeleted => StoreError::StreamDeleted(ctx.stream_name()),
        Error::AccessDenied => StoreError::Unavailable(format!(
            "access denied: the KurrentDB server refused to {} (check the credentials in the \
             connection string and the stream's ACL)",
            describe(&ctx)
        )),
        Error::Grpc {
            code: Code::InvalidArgument | Code::OutOfRange,
            message,
        } => StoreError::InvalidRequest(format!("{}: {message}", ctx.operation)),
        other => StoreError::Unavailable(format!("{}: {other}", describe(&ctx))),
    }
}

fn describe(ctx: &Context<'_>) -> String {
    match ctx.stream {
        Some(stream) => format!("{} `{stream}`", ctx.operation),
        None => ctx.operation.to_owned(),
    }
}

/// Whether the server rejected a delete or tombstone because of the expected
/// revision (KurrentDB sends `FAILED_PRECONDITION` with "... failed due to
/// WrongExpectedVersion ..." for those).
pub(super) fn is_wrong_expected_version(error: &Error) -> bool {
    match error {
        Error::WrongExpectedVersion { .. } => true,
        Error::Grpc { code, message } => {
            *code == Code::FailedPrecondition && message.contains("WrongExpectedVersion")
        }
        _ => false,
    }
}

/// The "Actual version: N" of a wrong-expected-version status message
/// (`-1`: no stream).
pub(super) fn actual_version(message: &str) -> Option<CurrentRevision> {
    let (_, rest) = message.split_once("Actual version:")?;
    let number: String = rest
        .trim_start()
        .chars()
        .take_while(|c| *c == '-' || c.is_ascii_digit())
        .collect();
    let version: i64 = number.parse().ok()?;
    Some(match u64::try_from(version) {
        Ok(revision) => CurrentRevision::Current(revision),
        Err(_) => CurrentRevision::NoStream,
    })
}

/// Whether the client had no working connection to the server at all (no
/// request reached it), so that a fresh client is needed.
pub(super) fn is_connection_failure(error: &Error) -> bool {
    matches!(
        error,
        Error::ConnectionClosed | Error::GrpcConnectionError(_)
    )
}

/// Whether a subscription that failed with `error` should resubscribe
/// (connection lost, server restarting or overloaded) rather than report it.
pub(super) fn is_transient(error: &Error) -> bool {
    match error {
        Error::ServerError(_)
        | Error::ConnectionClosed
        | Error::GrpcConnectionError(_)
        | Error::NotLeaderException(_)
        | Error::DeadlineExceeded => true,
        Error::Grpc { code, .. } => matches!(
            code,
            Code::Unavailable
                | Code::Unknown
                | Code::Internal
                | Code::Aborted
                | Code::Cancelled
                | Code::ResourceExhausted
                | Code::DeadlineExceeded
                | Code::DataLoss
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_actual_version() {
        let message = "Delete failed due to WrongExpectedVersion. Stream: s, Expected version: 1, \
                       Actual version: 2";
        assert_eq!(actual_version(message), Some(CurrentRevision::Current(2)));
        let message = "Append failed due to WrongExpectedVersion. Stream: s, Expected version: \
                       5, Actual version: -1.";
        assert_eq!(actual_version(message), Some(CurrentRevision::NoStream));
        assert_eq!(actual_version("Actual version: "), None);
        assert_eq!(actual_version("nothing"), None);
    }

    #[test]
    fn wrong_expected_version_from_a_status() {
        let error = Error::Grpc {
            code: Code::FailedPrecondition,
            message: "Delete failed due to WrongExpectedVersion. Stream: s, Expected version: \
                      1, Actual version: 2"
                .into(),
        };
        assert!(is_wrong_expected_version(&error));
        let mapped = store_error(
            error,
            Context::stream("delete", "s", ExpectedRevision::Exact(1)),
        );
        assert!(
            matches!(
                mapped,
                StoreError::WrongExpectedRevision {
                    current: CurrentRevision::Current(2),
                    expected: ExpectedRevision::Exact(1),
                    ..
                }
            ),
            "{mapped:?}"
        );
    }

    #[test]
    fn access_denied_is_clear() {
        let mapped = store_error(
            Error::AccessDenied,
            Context::stream("append to", "s", ExpectedRevision::Any),
        );
        match mapped {
            StoreError::Unavailable(message) => {
                assert!(message.starts_with("access denied"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert!(!is_transient(&Error::AccessDenied));
    }
}
