//! The embedded event store: a SQLite database file (`<data-dir>/events.db`).
//!
//! - `schema`: the tables (a global `events` log keyed by position, a
//!   `streams` table with revisions, soft-delete marks and metadata);
//!   `streams`: a stream's state, expected-revision checks, visibility.
//! - `writer`: one thread owns the only write connection and group-commits
//!   queued operations (`append`) in one transaction each round. SQLite runs
//!   in WAL mode with `synchronous=FULL`: an append is acknowledged only after
//!   its transaction is fsynced, so it survives a process kill or power loss.
//! - `read`: a pool of read connections used from `spawn_blocking`.
//! - `subscribe`: `$all` subscriptions as tokio tasks woken by the writer's
//!   committed head (a `watch` channel), no polling; `committed`: the head
//!   as published, with a summary of the names the last commit appended, so
//!   a subscription at the head skips, without a query, appends its filter
//!   cannot match; `tail`: the most recent committed events, kept in memory
//!   by the writer, which subscriptions near the head read instead of
//!   SQLite.
//!
//! Positions are assigned by the writer (`commit == prepare`), start at 1 and
//! are never reused, even when events are deleted (soft delete, `$maxCount`).
//! One process at a time may use a database file: the writer keeps the head
//! position in memory.
//!
//! An atomic append to several streams is one writer operation (one
//! savepoint): each stream is appended in turn, and the first failure rolls
//! them all back; its events get contiguous positions in the order given.
//!
//! Appends are idempotent as in KurrentDB: a batch whose event ids are
//! exactly the stream's events where the writer expects to append (after the
//! expected revision; for `Any` / `StreamExists`, the stream's last events)
//! is a retry, answered with those events' revision and position.
//!
//! Differences from KurrentDB worth knowing: `$maxCount`,
//! `$tb` and soft deletes remove events physically right away (KurrentDB waits
//! for a scavenge), so they also leave `$all`; `$maxAge` only hides events
//! from stream reads. `head_position` is the highest position ever assigned,
//! which may belong to an event deleted since. An empty append to a stream
//! without events reports `next_expected_revision == u64::MAX` (KurrentDB's
//! `-1`) and [`Position::START`].

mod append;
mod committed;
mod read;
mod schema;
mod streams;
mod subscribe;
mod tail;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use self::append::{Op, Outcome};
use self::committed::Committed;
use self::read::Readers;
use self::tail::Tail;
use self::writer::Writer;
use crate::store::{
    check_append, check_stream_appends, check_writable, AllStart, AppendResult, Direction,
    EventStore, ExpectedRevision, MultiAppendResult, NewEvent, Page, Position, RecordedEvent,
    StoreError, StreamAppend, StreamMetadata, StreamStart, SubscribeFrom, Subscription,
    SubscriptionFilter,
};

/// The embedded [`EventStore`]. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Writer,
    readers: Arc<Readers>,
    /// The highest committed position (0 when the log is empty), with what
    /// the last commit appended.
    head: watch::Receiver<Committed>,
    /// The most recent committed events.
    tail: Arc<Tail>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, usually
    /// `<data-dir>/events.db`. The directory must exist.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let (writer, head, tail) = Writer::start(path)?;
        let path = path.to_path_buf();
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                readers: Readers::new(path.clone()),
                path,
                writer,
                head,
                tail,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn committed_head(&self) -> u64 {
        self.inner.head.borrow().head
    }

    async fn write(&self, op: Op) -> Result<Outcome, StoreError> {
        self.inner.writer.execute(op).await
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("head", &self.committed_head())
            .finish()
    }
}

fn unexpected(outcome: &Outcome) -> StoreError {
    StoreError::Unavailable(format!("unexpected writer outcome {outcome:?}"))
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        check_append(stream, &events)?;
        let op = Op::Append {
            stream: stream.to_owned(),
            expected,
            events,
        };
        match self.write(op).await? {
            Outcome::Appended(result) => Ok(result),
            other => Err(unexpected(&other)),
        }
    }

    async fn append_streams(
        &self,
        appends: Vec<StreamAppend>,
    ) -> Result<MultiAppendResult, StoreError> {
        check_stream_appends(&appends)?;
        match self.write(Op::AppendStreams(appends)).await? {
            Outcome::AppendedStreams(result) => Ok(result),
            other => Err(unexpected(&other)),
        }
    }

    async fn read_stream(
        &self,
        stream: &str,
        direction: Direction,
        from: StreamStart,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let stream = stream.to_owned();
        self.inner
            .readers
            .run(move |conn| read::read_stream(conn, &stream, direction, from, max, usize::MAX))
            .await
            .map(|page| page.events)
    }

    async fn read_stream_page(
        &self,
        stream: &str,
        direction: Direction,
        from: StreamStart,
        max: usize,
        max_bytes: usize,
    ) -> Result<Page, StoreError> {
        let stream = stream.to_owned();
        self.inner
            .readers
            .run(move |conn| read::read_stream(conn, &stream, direction, from, max, max_bytes))
            .await
    }

    async fn read_all_page(
        &self,
        direction: Direction,
        from: AllStart,
        max: usize,
        max_bytes: usize,
    ) -> Result<Page, StoreError> {
        self.inner
            .readers
            .run(move |conn| read::read_all(conn, direction, from, max, max_bytes))
            .await
    }

    async fn read_all(
        &self,
        direction: Direction,
        from: AllStart,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner
            .readers
            .run(move |conn| read::read_all(conn, direction, from, max, usize::MAX))
            .await
            .map(|page| page.events)
    }

    async fn subscribe_all(
        &self,
        from: SubscribeFrom,
        filter: SubscriptionFilter,
    ) -> Result<Subscription, StoreError> {
        let after = match from {
            SubscribeFrom::Start => 0,
            SubscribeFrom::End => self.committed_head(),
            SubscribeFrom::After(position) => position.commit,
        };
        Ok(subscribe::spawn(
            Arc::clone(&self.inner.readers),
            Arc::clone(&self.inner.tail),
            self.inner.head.clone(),
            after,
            filter,
        ))
    }

    async fn stream_metadata(&self, stream: &str) -> Result<Option<StreamMetadata>, StoreError> {
        let stream = stream.to_owned();
        self.inner
            .readers
            .run(move |conn| read::stream_metadata(conn, &stream))
            .await
    }

    async fn set_stream_metadata(
        &self,
        stream: &str,
        metadata: StreamMetadata,
    ) -> Result<(), StoreError> {
        check_writable(stream)?;
        let op = Op::SetMetadata {
            stream: stream.to_owned(),
            metadata,
        };
        match self.write(op).await? {
            Outcome::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn delete_stream(
        &self,
        stream: &str,
        expected: ExpectedRevision,
    ) -> Result<(), StoreError> {
        check_writable(stream)?;
        let op = Op::Delete {
            stream: stream.to_owned(),
            expected,
        };
        match self.write(op).await? {
            Outcome::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn tombstone_stream(
        &self,
        stream: &str,
        expected: ExpectedRevision,
    ) -> Result<(), StoreError> {
        check_writable(stream)?;
        let op = Op::Tombstone {
            stream: stream.to_owned(),
            expected,
        };
        match self.write(op).await? {
            Outcome::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn head_position(&self) -> Result<Option<Position>, StoreError> {
        Ok(match self.committed_head() {
            0 => None,
            head => Some(Position::new(head, head)),
        })
    }
}
