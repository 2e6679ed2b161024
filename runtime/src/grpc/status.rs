//! Store errors as gRPC statuses, with the `exception` metadata entries the
//! official clients read to tell the failures apart.

use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

use crate::store::{CurrentRevision, ExpectedRevision, StoreError};

/// The status of a failed operation. Wrong expected revisions of appends are
/// not errors (they are a normal `AppendResp`); this covers the others.
pub fn from_store(error: StoreError) -> Status {
    match error {
        StoreError::WrongExpectedRevision {
            stream,
            expected,
            current,
        } => {
            let expected = version(expected);
            let actual = current_version(current);
            let mut metadata = exception("wrong-expected-version");
            insert(&mut metadata, "stream-name", &stream);
            insert(&mut metadata, "expected-version", &expected);
            insert(&mut metadata, "actual-version", &actual);
            // The server's wording: the official clients parse it to raise
            // their wrong-version error (Python's for delete and tombstone).
            let message = format!(
                "Operation failed due to WrongExpectedVersion. Stream: {stream}, Expected version: {expected}, Actual version: {actual}"
            );
            Status::with_metadata(Code::FailedPrecondition, message, metadata)
        }
        StoreError::StreamDeleted(stream) => {
            let mut metadata = exception("stream-deleted");
            insert(&mut metadata, "stream-name", &stream);
            let message = format!("Event stream '{stream}' is deleted.");
            Status::with_metadata(Code::FailedPrecondition, message, metadata)
        }
        StoreError::StreamNotFound(stream) => {
            let mut metadata = exception("stream-not-found");
            insert(&mut metadata, "stream-name", &stream);
            let message = format!("Event stream '{stream}' is not found.");
            Status::with_metadata(Code::NotFound, message, metadata)
        }
        StoreError::InvalidRequest(message) => Status::invalid_argument(message),
        StoreError::Unsupported(message) => Status::unimplemented(message),
        StoreError::Unavailable(message) => Status::unavailable(message),
    }
}

/// An append larger than the server accepts.
pub fn append_too_large(max: usize) -> Status {
    let mut metadata = exception("maximum-append-size-exceeded");
    insert(&mut metadata, "maximum-append-size", &max.to_string());
    Status::with_metadata(
        Code::InvalidArgument,
        format!("Maximum Append Size of {max} Exceeded."),
        metadata,
    )
}

/// A call the caller's user may not make, as KurrentDB answers it.
pub fn access_denied(stream: &str) -> Status {
    Status::with_metadata(
        Code::PermissionDenied,
        format!("Access denied: only the admin user may use `{stream}`."),
        exception("access-denied"),
    )
}

fn exception(name: &'static str) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    metadata.insert("exception", MetadataValue::from_static(name));
    metadata
}

/// Adds an entry when the value is valid ASCII metadata (stream names may
/// not be); the status message carries the same facts.
fn insert(metadata: &mut MetadataMap, key: &'static str, value: &str) {
    if let Ok(value) = MetadataValue::try_from(value) {
        metadata.insert(key, value);
    }
}

/// An expected revision as the protocol numbers it (-1 no stream, -2 any,
/// -4 stream exists).
fn version(expected: ExpectedRevision) -> String {
    match expected {
        ExpectedRevision::Any => "-2".into(),
        ExpectedRevision::NoStream => "-1".into(),
        ExpectedRevision::StreamExists => "-4".into(),
        ExpectedRevision::Exact(revision) => revision.to_string(),
    }
}

fn current_version(current: CurrentRevision) -> String {
    match current {
        CurrentRevision::NoStream => "-1".into(),
        CurrentRevision::Current(revision) => revision.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_expected_version_reads_as_the_server_words_it() {
        let status = from_store(StoreError::WrongExpectedRevision {
            stream: "orders-1".into(),
            expected: ExpectedRevision::Exact(5),
            current: CurrentRevision::Current(1),
        });
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(
            status.message(),
            "Operation failed due to WrongExpectedVersion. Stream: orders-1, Expected version: 5, Actual version: 1"
        );
        let missing = from_store(StoreError::WrongExpectedRevision {
            stream: "orders-2".into(),
            expected: ExpectedRevision::StreamExists,
            current: CurrentRevision::NoStream,
        });
        assert!(missing
            .message()
            .ends_with("Expected version: -4, Actual version: -1"));
        assert_eq!(
            missing.metadata().get("exception").map(|v| v.as_bytes()),
            Some(&b"wrong-expected-version"[..])
        );
    }
}
