use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A place in the global log. Grows with every append; `commit == prepare`
/// in the embedded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub commit: u64,
    pub prepare: u64,
}

impl Position {
    pub const START: Position = Position {
        commit: 0,
        prepare: 0,
    };

    pub fn new(commit: u64, prepare: u64) -> Self {
        Self { commit, prepare }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.commit == self.prepare {
            write!(f, "{}", self.commit)
        } else {
            write!(f, "{}/{}", self.commit, self.prepare)
        }
    }
}

/// How the payload of an event is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    Json,
    Binary,
}

impl ContentType {
    pub fn mime(self) -> &'static str {
        match self {
            ContentType::Json => "application/json",
            ContentType::Binary => "application/octet-stream",
        }
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: Uuid,
    pub event_type: String,
    pub content_type: ContentType,
    pub data: Bytes,
    pub metadata: Bytes,
}

impl NewEvent {
    /// A JSON event with a fresh id and no metadata.
    pub fn json(event_type: impl Into<String>, data: &impl Serialize) -> Self {
        Self {
            id: Uuid::new_v4(),
            event_type: event_type.into(),
            content_type: ContentType::Json,
            data: serde_json::to_vec(data).unwrap_or_default().into(),
            metadata: Bytes::new(),
        }
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub id: Uuid,
    pub stream: String,
    pub revision: u64,
    pub position: Position,
    pub event_type: String,
    pub content_type: ContentType,
    pub created: DateTime<Utc>,
    pub data: Bytes,
    pub metadata: Bytes,
}

impl RecordedEvent {
    /// System events have a `$`-prefixed type.
    pub fn is_system(&self) -> bool {
        self.event_type.starts_with('$')
    }

    /// The stream's category: the part of its name before the first `-`.
    pub fn category(&self) -> &str {
        self.stream.split('-').next().unwrap_or(&self.stream)
    }
}

/// What the writer believes about the stream before appending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedRevision {
    /// No check.
    Any,
    /// The stream must not exist (or be soft-deleted).
    NoStream,
    /// The stream must exist.
    StreamExists,
    /// The stream's last event must have this revision.
    Exact(u64),
}

impl fmt::Display for ExpectedRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedRevision::Any => f.write_str("any revision"),
            ExpectedRevision::NoStream => f.write_str("no stream"),
            ExpectedRevision::StreamExists => f.write_str("an existing stream"),
            ExpectedRevision::Exact(r) => write!(f, "revision {r}"),
        }
    }
}

/// Where a stream is, as reported in a wrong-expected-revision error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrentRevision {
    NoStream,
    Current(u64),
}

impl fmt::Display for CurrentRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CurrentRevision::NoStream => f.write_str("no stream"),
            CurrentRevision::Current(r) => write!(f, "revision {r}"),
        }
    }
}

/// The outcome of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// The revision of the stream's last event after the append.
    pub next_expected_revision: u64,
    /// The position of the last appended event (of the stream's last event
    /// when the batch was empty; [`Position::START`] when there is none).
    pub position: Position,
}

/// One stream's part of an atomic append to several streams
/// ([`crate::store::EventStore::append_streams`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAppend {
    pub stream: String,
    pub expected: ExpectedRevision,
    /// May be empty: the stream's expected revision is then only checked.
    pub events: Vec<NewEvent>,
}

impl StreamAppend {
    pub fn new(
        stream: impl Into<String>,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Self {
        Self {
            stream: stream.into(),
            expected,
            events,
        }
    }
}

/// Where one stream of an atomic multi-stream append stands afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAppended {
    pub stream: String,
    /// The revision of the stream's last event ([`CurrentRevision::NoStream`]
    /// for a stream only checked that still has no events).
    pub revision: CurrentRevision,
}

/// The outcome of a successful atomic multi-stream append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiAppendResult {
    /// One entry per [`StreamAppend`], in the order given.
    pub streams: Vec<StreamAppended>,
    /// The position of the last event written; `None` when every stream
    /// was only checked.
    pub position: Option<Position>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forwards,
    Backwards,
}

/// Where a stream read starts (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStart {
    Start,
    End,
    Revision(u64),
}

/// Where a `$all` read starts (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllStart {
    Start,
    End,
    Position(Position),
}

/// Where a subscription starts (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeFrom {
    Start,
    End,
    After(Position),
}

/// Stream metadata as KurrentDB keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamMetadata {
    #[serde(rename = "$maxCount", skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u64>,
    /// Maximum age in seconds.
    #[serde(rename = "$maxAge", skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    #[serde(rename = "$tb", skip_serializing_if = "Option::is_none")]
    pub truncate_before: Option<u64>,
    /// Any other keys.
    #[serde(flatten)]
    pub custom: serde_json::Map<String, serde_json::Value>,
}

/// One message of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriptionMessage {
    /// An event that passed the filter.
    Event(RecordedEvent),
    /// Every event up to this position was considered (filtered or not).
    Checkpoint(Position),
    /// The subscription has read everything that existed when it started
    /// catching up and is now live.
    CaughtUp,
}
