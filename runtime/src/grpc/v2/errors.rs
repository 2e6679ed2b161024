//! Failures of v2 calls as KurrentDB 25.1 reports them: a status code and,
//! in the `grpc-status-details-bin` trailer, a `google.rpc.Status` with the
//! same code and message whose detail is the Any-packed
//! `kurrentdb.protocol.v2.streams.errors.*ErrorDetails` naming what failed.
//! The official clients turn these into their typed errors (wrong expected
//! version, stream tombstoned, record / transaction too large, stream twice
//! in a session). No `exception` metadata: the clients would read that
//! first, as a v1 error.

use prost::Message;
use tonic::{Code, Status};

use super::super::proto::google::rpc;
use super::super::proto::kurrentdb::protocol::v2::streams::errors::{
    AppendRecordSizeExceededErrorDetails, AppendTransactionSizeExceededErrorDetails,
    StreamAlreadyInAppendSessionErrorDetails, StreamRevisionConflictErrorDetails,
    StreamTombstonedErrorDetails,
};
use super::super::status;
use super::records::{expected_revision_value, NO_STREAM};
use crate::store::{CurrentRevision, StoreError};

/// The package of the error details, for their type URLs.
pub const PACKAGE: &str = "kurrentdb.protocol.v2.streams.errors";

/// A status whose trailer carries `details` packed as an Any.
fn rich<D: Message>(code: Code, message: String, name: &str, details: &D) -> Status {
    let packed = prost_types::Any {
        type_url: format!("type.googleapis.com/{PACKAGE}.{name}"),
        value: details.encode_to_vec(),
    };
    let status = rpc::Status {
        code: code as i32,
        message: message.clone(),
        details: Some(packed),
    };
    Status::with_details(code, message, status.encode_to_vec().into())
}

/// A store failure of an append session.
pub fn from_store(error: StoreError) -> Status {
    match error {
        StoreError::WrongExpectedRevision {
            stream,
            expected,
            current,
        } => {
            let expected = expected_revision_value(expected);
            let actual = match current {
                CurrentRevision::NoStream => NO_STREAM,
                CurrentRevision::Current(revision) => i64::try_from(revision).unwrap_or(i64::MAX),
            };
            revision_conflict(&stream, expected, actual)
        }
        StoreError::StreamDeleted(stream) => rich(
            Code::FailedPrecondition,
            format!(
                "Stream '{stream}' is tombstoned: it was deleted for good and cannot be written."
            ),
            "StreamTombstonedErrorDetails",
            &StreamTombstonedErrorDetails { stream },
        ),
        other => status::from_store(other),
    }
}

/// The stream was not where the request expected it.
pub fn revision_conflict(stream: &str, expected: i64, actual: i64) -> Status {
    rich(
        Code::FailedPrecondition,
        format!(
            "Append failed: stream '{stream}' was expected at revision {expected} but is at \
             revision {actual}."
        ),
        "StreamRevisionConflictErrorDetails",
        &StreamRevisionConflictErrorDetails {
            stream: stream.to_owned(),
            expected_revision: expected,
            actual_revision: actual,
        },
    )
}

/// A session named `stream` a second time.
pub fn stream_twice(stream: &str) -> Status {
    rich(
        Code::Aborted,
        format!(
            "Stream '{stream}' appears twice in this append session; send all its records in \
             one request."
        ),
        "StreamAlreadyInAppendSessionErrorDetails",
        &StreamAlreadyInAppendSessionErrorDetails {
            stream: stream.to_owned(),
        },
    )
}

/// One record is larger than `max` bytes.
pub fn record_too_large(stream: &str, record_id: &str, size: usize, max: usize) -> Status {
    rich(
        Code::InvalidArgument,
        format!("Record {record_id} of stream '{stream}' has {size} bytes; the most is {max}."),
        "AppendRecordSizeExceededErrorDetails",
        &AppendRecordSizeExceededErrorDetails {
            stream: stream.to_owned(),
            record_id: record_id.to_owned(),
            size: clamp(size),
            max_size: clamp(max),
        },
    )
}

/// The session's records add up to more than `max` bytes.
pub fn session_too_large(size: usize, max: usize, records: usize) -> Status {
    rich(
        Code::Aborted,
        format!(
            "The append session reached {size} bytes after {records} record(s); the most is \
             {max}."
        ),
        "AppendTransactionSizeExceededErrorDetails",
        &AppendTransactionSizeExceededErrorDetails {
            size: clamp(size),
            max_size: clamp(max),
        },
    )
}

/// A session that ended before naming any stream (no details, as KurrentDB).
pub fn no_requests() -> Status {
    Status::failed_precondition(
        "The append session ended without any append request; send one per stream.",
    )
}

fn clamp(bytes: usize) -> i32 {
    i32::try_from(bytes).unwrap_or(i32::MAX)
}
