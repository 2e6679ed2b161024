//! The database file: connection settings, tables, and the mapping between
//! rows and [`RecordedEvent`]s.
//!
//! Layout (schema version 1, kept in `PRAGMA user_version`):
//!
//! - `events`: the global log. `position` is the `INTEGER PRIMARY KEY`, so the
//!   log is stored in position order; `(stream, revision)` is unique.
//! - `streams`: one row per stream that was ever written or given metadata:
//!   the revision of its last event (kept across soft deletes so a recreated
//!   stream continues its revisions), whether it is soft-deleted, and its
//!   metadata as JSON.
//! - `meta`: `head`, the highest position ever assigned. Positions of
//!   physically deleted events are never reused, even after a restart.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row};
use uuid::Uuid;

use crate::store::{ContentType, Position, RecordedEvent, StoreError};

const SCHEMA_VERSION: i64 = 1;

/// How long a connection waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const CREATE_TABLES: &str = "
CREATE TABLE events (
    position     INTEGER PRIMARY KEY,
    stream       TEXT    NOT NULL,
    revision     INTEGER NOT NULL,
    id           BLOB    NOT NULL,
    event_type   TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    created      INTEGER NOT NULL,
    data         BLOB    NOT NULL,
    metadata     BLOB    NOT NULL
);
CREATE UNIQUE INDEX events_stream_revision ON events (stream, revision);
CREATE TABLE streams (
    name          TEXT    PRIMARY KEY,
    last_revision INTEGER,
    deleted       INTEGER NOT NULL DEFAULT 0,
    metadata      TEXT
) WITHOUT ROWID;
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('head', 0);
";

/// The columns [`event_from_row`] expects, in order.
pub(super) const EVENT_COLUMNS: &str =
    "position, stream, revision, id, event_type, content_type, created, data, metadata";

/// Opens the writer connection, creating the file and tables when needed.
/// Returns the connection and the highest position ever assigned.
pub(super) fn open_writer(path: &Path) -> Result<(Connection, u64), StoreError> {
    let conn = Connection::open(path).map_err(sql_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_err)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(sql_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "{}: cannot switch to WAL mode (got `{mode}`)",
            path.display()
        )));
    }
    // FULL: every commit fsyncs the WAL, so an acknowledged append survives a
    // process crash and a power loss.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql_err)?;
    migrate(&conn, path)?;
    let head = load_head(&conn).map_err(sql_err)?;
    Ok((conn, head))
}

/// Opens a connection for reads (the file must exist).
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(sql_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_err)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(sql_err)?;
    Ok(conn)
}

fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sql_err)?;
    match version {
        0 => {
            let tx = conn.unchecked_transaction().map_err(sql_err)?;
            tx.execute_batch(CREATE_TABLES).map_err(sql_err)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(sql_err)?;
            tx.commit().map_err(sql_err)
        }
        SCHEMA_VERSION => Ok(()),
        other => Err(StoreError::Unavailable(format!(
            "{}: unknown schema version {other}",
            path.display()
        ))),
    }
}

/// The highest position ever assigned (0 for an empty log).
fn load_head(conn: &Connection) -> rusqlite::Result<u64> {
    let stored: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = 'head'", [], |row| {
            row.get(0)
        })
        .optional()?;
    let max: Option<i64> =
        conn.query_row("SELECT MAX(position) FROM events", [], |row| row.get(0))?;
    Ok(from_i64(stored.unwrap_or(0).max(max.unwrap_or(0))))
}

/// Records the highest position ever assigned; part of the writer's transaction.
pub(super) fn store_head(conn: &Connection, head: u64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'head'",
        [to_i64(head)],
    )?;
    Ok(())
}

/// Maps a row selected with [`EVENT_COLUMNS`].
pub(super) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<RecordedEvent> {
    let position = from_i64(row.get(0)?);
    // The id and the content type are read in place, without a copy.
    let id = Uuid::from_slice(row.get_ref(3)?.as_blob()?).unwrap_or_default();
    let content_type = content_type_from_sql(row.get_ref(5)?.as_str()?);
    let created: i64 = row.get(6)?;
    Ok(RecordedEvent {
        id,
        stream: row.get(1)?,
        revision: from_i64(row.get(2)?),
        position: Position::new(position, position),
        event_type: row.get(4)?,
        content_type,
        created: DateTime::from_timestamp_micros(created).unwrap_or_default(),
        data: row.get::<_, Vec<u8>>(7)?.into(),
        metadata: row.get::<_, Vec<u8>>(8)?.into(),
    })
}

pub(super) fn content_type_to_sql(content_type: ContentType) -> &'static str {
    match content_type {
        ContentType::Json => "json",
        ContentType::Binary => "binary",
    }
}

fn content_type_from_sql(value: &str) -> ContentType {
    match value {
        "json" => ContentType::Json,
        _ => ContentType::Binary,
    }
}

/// The current time in unix microseconds, as stored in `created`.
pub(super) fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// Revisions and positions are `u64` in the API and `INTEGER` (i64) in SQLite.
pub(super) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) fn from_i64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Storage failures are reported as [`StoreError::Unavailable`].
pub(super) fn sql_err(error: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {error}"))
}
