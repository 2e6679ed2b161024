use super::{CurrentRevision, ExpectedRevision};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream was not at the revision the caller expected.
    #[error("stream `{stream}` expected {expected}, but it is at {current}")]
    WrongExpectedRevision {
        stream: String,
        expected: ExpectedRevision,
        current: CurrentRevision,
    },
    /// The stream has no events to read.
    #[error("stream `{0}` not found")]
    StreamNotFound(String),
    /// The stream was deleted for good and can never be written again.
    #[error("stream `{0}` is deleted")]
    StreamDeleted(String),
    /// The caller passed something the store cannot accept.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The backend cannot do this at all (e.g. a server too old for it);
    /// retrying will not help.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The store cannot be reached or its storage failed; retrying may help.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}
