//! The answers of a batch append call: a success, or an error status whose
//! one detail is the shared error message clients unpack, with the codes
//! and messages KurrentDB uses (the message is the detail's name; a bad
//! request says what was wrong in its detail).

use prost::Message;
use prost_types::Any;
use tonic::{Code, Status};

use super::super::convert::stream_identifier;
use super::super::proto::event_store::client::{
    self as shared, wrong_expected_version::CurrentStreamRevisionOption,
    wrong_expected_version::ExpectedStreamPositionOption, AllStreamPosition,
};
use super::super::proto::google::rpc;
use super::super::proto::streams::append_resp::{self, success, wrong_expected_version as wev};
use super::super::proto::streams::batch_append_resp::{self, success as batch_success};
use super::super::proto::streams::{AppendResp, BatchAppendResp};
use super::super::proto::Uuid;

/// Why one append of a batch was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The stream is not where the append expected it (the current and
    /// expected positions as the protocol states them).
    WrongExpectedVersion {
        current: CurrentStreamRevisionOption,
        expected: ExpectedStreamPositionOption,
    },
    StreamDeleted,
    AccessDenied,
    /// Not received and written by its deadline.
    Timeout,
    MaximumAppendSizeExceeded(usize),
    BadRequest(String),
    Unknown,
}

/// The answer to an append; `stream` is the stream it named, when known.
pub fn answer(
    correlation_id: Option<Uuid>,
    stream: Option<&str>,
    result: batch_append_resp::Result,
) -> BatchAppendResp {
    BatchAppendResp {
        correlation_id,
        result: Some(result),
        stream_identifier: stream.map(stream_identifier),
        // KurrentDB leaves the expected position out of its answers.
        expected_stream_position: None,
    }
}

/// A refused append.
pub fn refused(
    correlation_id: Option<Uuid>,
    stream: Option<&str>,
    refusal: Refusal,
) -> BatchAppendResp {
    let error = status(refusal, stream);
    answer(
        correlation_id,
        stream,
        batch_append_resp::Result::Error(error),
    )
}

/// The answer to a write: the shared write's answer or failure, as a batch
/// append answer.
pub fn written(
    correlation_id: Option<Uuid>,
    stream: &str,
    result: Result<AppendResp, Status>,
) -> BatchAppendResp {
    let outcome = match result {
        Ok(AppendResp {
            result: Some(append_resp::Result::Success(done)),
        }) => Ok(batch_append_resp::Result::Success(convert_success(done))),
        Ok(AppendResp {
            result: Some(append_resp::Result::WrongExpectedVersion(wrong)),
        }) => Err(wrong_expected_version(wrong)),
        Ok(AppendResp { result: None }) => Err(Refusal::Unknown),
        Err(status) => Err(refusal_of(&status, stream)),
    };
    match outcome {
        Ok(result) => answer(correlation_id, Some(stream), result),
        Err(refusal) => refused(correlation_id, Some(stream), refusal),
    }
}

fn convert_success(done: append_resp::Success) -> batch_append_resp::Success {
    let current_revision_option = done.current_revision_option.map(|current| match current {
        success::CurrentRevisionOption::CurrentRevision(r) => {
            batch_success::CurrentRevisionOption::CurrentRevision(r)
        }
        success::CurrentRevisionOption::NoStream(_) => {
            batch_success::CurrentRevisionOption::NoStream(())
        }
    });
    let position_option = done.position_option.map(|position| match position {
        success::PositionOption::Position(p) => {
            batch_success::PositionOption::Position(AllStreamPosition {
                commit_position: p.commit_position,
                prepare_position: p.prepare_position,
            })
        }
        success::PositionOption::NoPosition(_) => batch_success::PositionOption::NoPosition(()),
    });
    batch_append_resp::Success {
        current_revision_option,
        position_option,
    }
}

fn wrong_expected_version(wrong: append_resp::WrongExpectedVersion) -> Refusal {
    let current = match wrong.current_revision_option {
        Some(wev::CurrentRevisionOption::CurrentRevision(r)) => {
            CurrentStreamRevisionOption::CurrentStreamRevision(r)
        }
        Some(wev::CurrentRevisionOption::CurrentNoStream(_)) | None => {
            CurrentStreamRevisionOption::CurrentNoStream(())
        }
    };
    let expected = match wrong.expected_revision_option {
        Some(wev::ExpectedRevisionOption::ExpectedRevision(r)) => {
            ExpectedStreamPositionOption::ExpectedStreamPosition(r)
        }
        Some(wev::ExpectedRevisionOption::ExpectedNoStream(_)) => {
            ExpectedStreamPositionOption::ExpectedNoStream(())
        }
        Some(wev::ExpectedRevisionOption::ExpectedStreamExists(_)) => {
            ExpectedStreamPositionOption::ExpectedStreamExists(())
        }
        Some(wev::ExpectedRevisionOption::ExpectedAny(_)) | None => {
            ExpectedStreamPositionOption::ExpectedAny(())
        }
    };
    Refusal::WrongExpectedVersion { current, expected }
}

/// A failed write as the refusal KurrentDB would send for it.
fn refusal_of(status: &Status, stream: &str) -> Refusal {
    let exception = status
        .metadata()
        .get("exception")
        .and_then(|value| value.to_str().ok());
    match (status.code(), exception) {
        (_, Some("stream-deleted")) => Refusal::StreamDeleted,
        (_, Some("access-denied")) | (Code::PermissionDenied, _) => Refusal::AccessDenied,
        (Code::InvalidArgument, _) => Refusal::BadRequest(status.message().to_owned()),
        _ => {
            tracing::warn!(stream, code = ?status.code(), error = status.message(), "a batch append failed");
            Refusal::Unknown
        }
    }
}

/// The status of a refusal, its one detail packed as `Any`.
fn status(refusal: Refusal, stream: Option<&str>) -> rpc::Status {
    let (code, name, detail) = match refusal {
        Refusal::WrongExpectedVersion { current, expected } => (
            Code::AlreadyExists,
            "WrongExpectedVersion",
            shared::WrongExpectedVersion {
                current_stream_revision_option: Some(current),
                expected_stream_position_option: Some(expected),
            }
            .encode_to_vec(),
        ),
        Refusal::StreamDeleted => (
            Code::NotFound,
            "StreamDeleted",
            shared::StreamDeleted {
                stream_identifier: stream.map(stream_identifier),
            }
            .encode_to_vec(),
        ),
        Refusal::AccessDenied => (
            Code::PermissionDenied,
            "AccessDenied",
            shared::AccessDenied {}.encode_to_vec(),
        ),
        Refusal::Timeout => (
            Code::DeadlineExceeded,
            "Timeout",
            shared::Timeout {}.encode_to_vec(),
        ),
        Refusal::MaximumAppendSizeExceeded(max) => (
            Code::InvalidArgument,
            "MaximumAppendSizeExceeded",
            shared::MaximumAppendSizeExceeded {
                max_append_size: u32::try_from(max).unwrap_or(u32::MAX),
            }
            .encode_to_vec(),
        ),
        Refusal::BadRequest(message) => (
            Code::InvalidArgument,
            "BadRequest",
            shared::BadRequest { message }.encode_to_vec(),
        ),
        Refusal::Unknown => (Code::Unknown, "Unknown", shared::Unknown {}.encode_to_vec()),
    };
    rpc::Status {
        code: code as i32,
        message: name.to_owned(),
        details: Some(Any {
            type_url: format!("type.googleapis.com/event_store.client.{name}"),
            value: detail,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(response: &BatchAppendResp) -> &rpc::Status {
        match &response.result {
            Some(batch_append_resp::Result::Error(error)) => error,
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn each_refusal_has_the_servers_code_message_and_detail() {
        let cases = [
            (Refusal::StreamDeleted, Code::NotFound, "StreamDeleted"),
            (
                Refusal::AccessDenied,
                Code::PermissionDenied,
                "AccessDenied",
            ),
            (Refusal::Timeout, Code::DeadlineExceeded, "Timeout"),
            (
                Refusal::MaximumAppendSizeExceeded(1024),
                Code::InvalidArgument,
                "MaximumAppendSizeExceeded",
            ),
            (
                Refusal::BadRequest("why".into()),
                Code::InvalidArgument,
                "BadRequest",
            ),
            (Refusal::Unknown, Code::Unknown, "Unknown"),
        ];
        for (refusal, code, name) in cases {
            let response = refused(None, Some("orders"), refusal);
            let error = error_of(&response);
            assert_eq!(error.code, code as i32, "{name}");
            assert_eq!(error.message, name);
            let details = error.details.as_ref().expect("details");
            assert_eq!(
                details.type_url,
                format!("type.googleapis.com/event_store.client.{name}")
            );
            assert_eq!(
                response
                    .stream_identifier
                    .as_ref()
                    .map(|s| s.stream_name.as_slice()),
                Some(&b"orders"[..])
            );
        }
    }

    #[test]
    fn details_decode_as_the_shared_messages() {
        let size = refused(None, None, Refusal::MaximumAppendSizeExceeded(1024));
        let detail = error_of(&size).details.as_ref().expect("details");
        let decoded =
            shared::MaximumAppendSizeExceeded::decode(detail.value.as_slice()).expect("decode");
        assert_eq!(decoded.max_append_size, 1024);

        let bad = refused(None, None, Refusal::BadRequest("no options".into()));
        let detail = error_of(&bad).details.as_ref().expect("details");
        let decoded = shared::BadRequest::decode(detail.value.as_slice()).expect("decode");
        assert_eq!(decoded.message, "no options");

        let deleted = refused(None, Some("gone"), Refusal::StreamDeleted);
        let detail = error_of(&deleted).details.as_ref().expect("details");
        let decoded = shared::StreamDeleted::decode(detail.value.as_slice()).expect("decode");
        assert_eq!(
            decoded.stream_identifier.map(|s| s.stream_name),
            Some(b"gone".to_vec())
        );
    }

    #[test]
    fn details_use_the_clients_field_numbers() {
        let wrong = shared::WrongExpectedVersion {
            current_stream_revision_option: Some(
                CurrentStreamRevisionOption::CurrentStreamRevision(2),
            ),
            expected_stream_position_option: Some(ExpectedStreamPositionOption::ExpectedNoStream(
                (),
            )),
        };
        // Field 1 = 2, field 6 = an empty message.
        assert_eq!(wrong.encode_to_vec(), [0x08, 2, 0x32, 0]);
        let size = shared::MaximumAppendSizeExceeded { max_append_size: 5 };
        assert_eq!(size.encode_to_vec(), [0x08, 5]);
        let bad = shared::BadRequest {
            message: "m".into(),
        };
        assert_eq!(bad.encode_to_vec(), [0x0a, 1, b'm']);
        let deleted = shared::StreamDeleted {
            stream_identifier: Some(stream_identifier("s")),
        };
        // Field 1 holding a stream identifier, whose name is field 3.
        assert_eq!(deleted.encode_to_vec(), [0x0a, 3, 0x1a, 1, b's']);
        // The details without fields, including the one this server never
        // sends (it has no transactions).
        assert!(shared::InvalidTransaction {}.encode_to_vec().is_empty());
        assert!(shared::Timeout {}.encode_to_vec().is_empty());
    }

    #[test]
    fn write_failures_map_to_the_refusals_clients_know() {
        let deleted = super::super::super::status::from_store(
            crate::store::StoreError::StreamDeleted("s".into()),
        );
        assert_eq!(refusal_of(&deleted, "s"), Refusal::StreamDeleted);
        let invalid = Status::invalid_argument("event type too long");
        assert_eq!(
            refusal_of(&invalid, "s"),
            Refusal::BadRequest("event type too long".into())
        );
        assert_eq!(
            refusal_of(&Status::unavailable("disk"), "s"),
            Refusal::Unknown
        );
    }
}
