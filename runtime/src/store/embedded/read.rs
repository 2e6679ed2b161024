//! Reads: a small pool of read-only connections (WAL lets them read while the
//! writer writes) used from `spawn_blocking`, and the read queries.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{params, Connection};

use super::schema::{event_from_row, open_reader, sql_err, to_i64, EVENT_COLUMNS};
use super::streams::StreamState;
use crate::store::{
    AllStart, CurrentRevision, Direction, Page, StoreError, StreamMetadata, StreamStart,
};

/// Idle connections kept for reuse; more are opened when needed.
const MAX_IDLE: usize = 8;

pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub fn new(path: PathBuf) -> Arc<Readers> {
        Arc::new(Readers {
            path,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` with a read connection on the blocking thread pool.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = readers.take()?;
            let result = f(&conn);
            readers.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("read task failed: {e}")))?
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open_reader(&self.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// Reads a stream within one read transaction (a consistent snapshot of the
/// stream's state and events); rows stop being fetched at `max_bytes`.
pub(super) fn read_stream(
    conn: &Connection,
    stream: &str,
    direction: Direction,
    from: StreamStart,
    max: usize,
    max_bytes: usize,
) -> Result<Page, StoreError> {
    let tx = conn.unchecked_transaction().map_err(sql_err)?;
    let state = StreamState::load(&tx, stream)?;
    state.ensure_not_tombstoned(stream)?;
    let CurrentRevision::Current(last) = state.current() else {
        return Err(StoreError::StreamNotFound(stream.to_owned()));
    };
    let lowest = state.first_kept_revision();
    let cutoff = state.created_cutoff();
    let limit = to_i64(u64::try_from(max).unwrap_or(u64::MAX));
    let events = match (direction, from) {
        (_, _) if max == 0 => Page::default(),
        (Direction::Forwards, StreamStart::End) => Page::default(),
        (Direction::Forwards, from) => {
            let start = match from {
                StreamStart::Revision(revision) => revision.max(lowest),
                _ => lowest,
            };
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1 AND revision >= ?2 \
                 AND created >= ?3 ORDER BY revision ASC LIMIT ?4"
            );
            let mut stmt = tx.prepare_cached(&sql).map_err(sql_err)?;
            let rows = stmt
                .query_map(
                    params![stream, to_i64(start), cutoff, limit],
                    event_from_row,
                )
                .map_err(sql_err)?;
            Page::within(rows, max_bytes).map_err(sql_err)?
        }
        (Direction::Backwards, from) => {
            let end = match from {
                StreamStart::Revision(revision) => revision.min(last),
                StreamStart::End => last,
                StreamStart::Start => 0,
            };
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1 AND revision <= ?2 \
                 AND revision >= ?3 AND created >= ?4 ORDER BY revision DESC LIMIT ?5"
            );
            let mut stmt = tx.prepare_cached(&sql).map_err(sql_err)?;
            let rows = stmt
                .query_map(
                    params![stream, to_i64(end), to_i64(lowest), cutoff, limit],
                    event_from_row,
                )
                .map_err(sql_err)?;
            Page::within(rows, max_bytes).map_err(sql_err)?
        }
    };
    Ok(events)
}

/// Reads the global log by position, `from` inclusive; rows stop being
/// fetched at `max_bytes`.
pub(super) fn read_all(
    conn: &Connection,
    direction: Direction,
    from: AllStart,
    max: usize,
    max_bytes: usize,
) -> Result<Page, StoreError> {
    let limit = to_i64(u64::try_from(max).unwrap_or(u64::MAX));
    let (sql, bound) = match (direction, from) {
        (Direction::Forwards, AllStart::End) | (Direction::Backwards, AllStart::Start) => {
            return Ok(Page::default())
        }
        (Direction::Forwards, AllStart::Start) => ("position >= ?1 ORDER BY position ASC", 0),
        (Direction::Forwards, AllStart::Position(p)) => {
            ("position >= ?1 ORDER BY position ASC", to_i64(p.commit))
        }
        (Direction::Backwards, AllStart::End) => {
            ("position <= ?1 ORDER BY position DESC", i64::MAX)
        }
        (Direction::Backwards, AllStart::Position(p)) => {
            ("position <= ?1 ORDER BY position DESC", to_i64(p.commit))
        }
    };
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE {sql} LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
    let rows = stmt
        .query_map(params![bound, limit], event_from_row)
        .map_err(sql_err)?;
    Page::within(rows, max_bytes).map_err(sql_err)
}

/// Reads up to `limit` events after `position` (exclusive), stopping at
/// `max_bytes`, for subscriptions.
pub(super) fn read_after(
    conn: &Connection,
    position: u64,
    limit: usize,
    max_bytes: usize,
) -> Result<Page, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE position > ?1 ORDER BY position ASC LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
    let limit = to_i64(u64::try_from(limit).unwrap_or(u64::MAX));
    let rows = stmt
        .query_map(params![to_i64(position), limit], event_from_row)
        .map_err(sql_err)?;
    Page::within(rows, max_bytes).map_err(sql_err)
}

pub(super) fn stream_metadata(
    conn: &Connection,
    stream: &str,
) -> Result<Option<StreamMetadata>, StoreError> {
    let state = StreamState::load(conn, stream)?;
    state.ensure_not_tombstoned(stream)?;
    Ok(state.metadata)
}
