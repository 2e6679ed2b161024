//! The event store: one trait, several backends, identical semantics.
//!
//! Everything the runtime keeps (connector definitions, checkpoints, dead
//! letters, later uploaded modules) lives in streams of an [`EventStore`]. The
//! embedded backend ([`embedded::SqliteStore`]) keeps them in a SQLite file;
//! other backends (a KurrentDB node over gRPC) implement the same trait and run
//! the same [`conformance`] suite.
//!
//! Data flow: writers [`EventStore::append`] batches of [`NewEvent`]s with an
//! [`ExpectedRevision`] (or [`EventStore::append_streams`] to several streams
//! at once, atomically, each with its own); readers get [`RecordedEvent`]s back from stream reads,
//! `$all` reads, or a live [`Subscription`] to `$all` that filters server-side
//! and reports periodic checkpoints so a filter that matches nothing still
//! advances. Reads that answer requests use [`EventStore::read_stream_page`]
//! and [`EventStore::read_all_page`], bounded in bytes as well as in events
//! ([`Page`]).

pub mod conformance;
pub mod embedded;
mod error;
mod filter;
#[cfg(test)]
pub(crate) mod intercepted;
pub mod kurrent;
pub mod metered;
mod multi;
mod page;
mod pattern;
mod subscription;
mod types;

pub use error::StoreError;
pub use filter::{Matcher, SubscriptionFilter};
pub use page::{event_bytes, Page};
pub use pattern::{Pattern, PatternError, MAX_PATTERN_BYTES};
pub use subscription::{ByteGate, Chunk, Subscription};
pub use types::*;

pub(crate) use multi::check_stream_appends;

use async_trait::async_trait;

/// The operations every backend provides.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream` atomically if the stream is at `expected`.
    ///
    /// An empty batch only checks the expected revision.
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError>;

    /// Appends to several streams at once, each with its own expected
    /// revision: every stream's events are written, or none (one wrong
    /// expectation fails the whole append with that stream's
    /// [`StoreError::WrongExpectedRevision`]; a tombstoned stream with
    /// [`StoreError::StreamDeleted`]). Events get positions in the order
    /// given, contiguous in the embedded store.
    ///
    /// A stream without events is only checked against its expected
    /// revision, as a condition of the others' writes. Refused as
    /// [`StoreError::InvalidRequest`]: no streams, a stream named twice
    /// (ignoring case), and whatever [`EventStore::append`] refuses.
    /// Retrying an append that succeeded (same event ids, same
    /// expectations) writes nothing again and answers the same.
    ///
    /// Backends that cannot do it keep this default, which fails with
    /// [`StoreError::Unsupported`].
    async fn append_streams(
        &self,
        appends: Vec<StreamAppend>,
    ) -> Result<MultiAppendResult, StoreError> {
        check_stream_appends(&appends)?;
        Err(StoreError::Unsupported(
            "this store cannot append to several streams atomically".into(),
        ))
    }

    /// Reads up to `max` events of `stream` from `from` in `direction`.
    ///
    /// Fails with [`StoreError::StreamNotFound`] when the stream has no
    /// events (never written, or deleted). Events hidden by `$maxCount` or by
    /// a soft delete are not returned.
    async fn read_stream(
        &self,
        stream: &str,
        direction: Direction,
        from: StreamStart,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Reads up to `max` events of the global log from `from` (inclusive) in
    /// `direction`. System events are included.
    async fn read_all(
        &self,
        direction: Direction,
        from: AllStart,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Like [`EventStore::read_stream`], but the page also stops once its
    /// events add up to `max_bytes` ([`Page::cut_short`]; see [`Page::within`]).
    /// By default it reads in small chunks; backends that can stop a read
    /// early override it.
    async fn read_stream_page(
        &self,
        stream: &str,
        direction: Direction,
        from: StreamStart,
        max: usize,
        max_bytes: usize,
    ) -> Result<Page, StoreError> {
        page::stream_page_in_chunks(self, stream, direction, from, max, max_bytes).await
    }

    /// Like [`EventStore::read_all`], bounded in bytes as
    /// [`EventStore::read_stream_page`] is.
    async fn read_all_page(
        &self,
        direction: Direction,
        from: AllStart,
        max: usize,
        max_bytes: usize,
    ) -> Result<Page, StoreError> {
        page::all_page_in_chunks(self, direction, from, max, max_bytes).await
    }

    /// Subscribes to the global log after `from` (exclusive): catch-up, then
    /// live, until the [`Subscription`] is dropped.
    async fn subscribe_all(
        &self,
        from: SubscribeFrom,
        filter: SubscriptionFilter,
    ) -> Result<Subscription, StoreError>;

    /// The stream's metadata, or `None` when none was ever set; a
    /// tombstoned stream fails with [`StoreError::StreamDeleted`].
    async fn stream_metadata(&self, stream: &str) -> Result<Option<StreamMetadata>, StoreError>;

    /// Sets the stream's metadata (`$maxCount`, `$maxAge`, custom keys).
    async fn set_stream_metadata(
        &self,
        stream: &str,
        metadata: StreamMetadata,
    ) -> Result<(), StoreError>;

    /// Soft-deletes `stream`: its events disappear from reads; a later append
    /// recreates it and continues the revisions.
    async fn delete_stream(
        &self,
        stream: &str,
        expected: ExpectedRevision,
    ) -> Result<(), StoreError>;

    /// Deletes `stream` for good (a tombstone): its events disappear, and
    /// every later append, read, delete or metadata change of it fails with
    /// [`StoreError::StreamDeleted`].
    async fn tombstone_stream(
        &self,
        stream: &str,
        expected: ExpectedRevision,
    ) -> Result<(), StoreError>;

    /// The position of the last event in the global log, if any.
    async fn head_position(&self) -> Result<Option<Position>, StoreError>;
}

/// Rejects stream names no backend writes to: the empty name, and metadata
/// streams (`$$stream`; KurrentDB would take an append there as new
/// metadata, so it goes through [`EventStore::set_stream_metadata`]).
pub(crate) fn check_writable(stream: &str) -> Result<(), StoreError> {
    if stream.is_empty() {
        return Err(StoreError::InvalidRequest(
            "the stream name is empty".into(),
        ));
    }
    if stream.starts_with("$$") {
        return Err(StoreError::InvalidRequest(format!(
            "`{stream}` is a metadata stream; use set_stream_metadata"
        )));
    }
    Ok(())
}

/// The longest event type accepted, in bytes.
pub const MAX_EVENT_TYPE_BYTES: usize = 1024;

/// Rejects appends no backend accepts: to a stream [`check_writable`]
/// refuses, or with an event without a type or with a type longer than
/// [`MAX_EVENT_TYPE_BYTES`].
pub(crate) fn check_append(stream: &str, events: &[NewEvent]) -> Result<(), StoreError> {
    check_writable(stream)?;
    for (index, event) in events.iter().enumerate() {
        if event.event_type.is_empty() {
            return Err(StoreError::InvalidRequest(format!(
                "event {index} of the batch has an empty event type"
            )));
        }
        if event.event_type.len() > MAX_EVENT_TYPE_BYTES {
            return Err(StoreError::InvalidRequest(format!(
                "event {index} of the batch has an event type of {} bytes; the most is \
                 {MAX_EVENT_TYPE_BYTES}, e.g. `OrderPlaced`",
                event.event_type.len()
            )));
        }
    }
    Ok(())
}
