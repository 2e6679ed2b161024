//! The write operations (append, atomic append to several streams, soft
//! delete, tombstone, set metadata), each run inside the writer's
//! transaction. They check and change stream state; committing and
//! acknowledging is the writer's job. An operation that fails part-way has
//! its changes rolled back by the writer (each runs in its own savepoint), so
//! a multi-stream append is simply one single-stream append per stream.

use rusqlite::{params, Connection, OptionalExtension};

use super::schema::{content_type_to_sql, now_micros, sql_err, to_i64};
use super::streams::{StreamState, SOFT_DELETED, TOMBSTONED};
use crate::store::{
    AppendResult, CurrentRevision, ExpectedRevision, MultiAppendResult, NewEvent, Position,
    StoreError, StreamAppend, StreamAppended, StreamMetadata,
};

/// One write operation, as queued for the writer.
#[derive(Debug)]
pub(super) enum Op {
    Append {
        stream: String,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    },
    /// All or nothing: the first failing stream fails the operation.
    AppendStreams(Vec<StreamAppend>),
    Delete {
        stream: String,
        expected: ExpectedRevision,
    },
    Tombstone {
        stream: String,
        expected: ExpectedRevision,
    },
    SetMetadata {
        stream: String,
        metadata: StreamMetadata,
    },
}

/// What a successful operation reports back.
#[derive(Debug)]
pub(super) enum Outcome {
    Appended(AppendResult),
    AppendedStreams(MultiAppendResult),
    Done,
}

impl Op {
    /// The number of events the operation writes (for sizing write groups).
    pub fn weight(&self) -> usize {
        match self {
            Op::Append { events, .. } => events.len().max(1),
            Op::AppendStreams(appends) => {
                appends.iter().map(|a| a.events.len()).sum::<usize>().max(1)
            }
            _ => 1,
        }
    }

    /// Runs the operation; `head` is the last assigned position and is
    /// advanced for every event written.
    pub fn apply(&self, conn: &Connection, head: &mut u64) -> Result<Outcome, StoreError> {
        match self {
            Op::Append {
                stream,
                expected,
                events,
            } => append(conn, head, stream, *expected, events).map(Outcome::Appended),
            Op::AppendStreams(appends) => {
                append_streams(conn, head, appends).map(Outcome::AppendedStreams)
            }
            Op::Delete { stream, expected } => {
                delete(conn, stream, *expected).map(|()| Outcome::Done)
            }
            Op::Tombstone { stream, expected } => {
                tombstone(conn, stream, *expected).map(|()| Outcome::Done)
            }
            Op::SetMetadata { stream, metadata } => {
                set_metadata(conn, stream, metadata).map(|()| Outcome::Done)
            }
        }
    }
}

fn append(
    conn: &Connection,
    head: &mut u64,
    stream: &str,
    expected: ExpectedRevision,
    events: &[NewEvent],
) -> Result<AppendResult, StoreError> {
    let mut state = StreamState::load(conn, stream)?;
    state.ensure_not_tombstoned(stream)?;
    if let Some(earlier) = already_appended(conn, stream, &state, expected, events)? {
        return Ok(earlier);
    }
    state.check(stream, expected)?;
    if events.is_empty() {
        return current_state(conn, stream, &state);
    }
    let first = state.next_revision();
    let created = now_micros();
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO events (position, stream, revision, id, event_type, content_type, \
             created, data, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(sql_err)?;
    let mut revision = first;
    for event in events {
        *head += 1;
        insert
            .execute(params![
                to_i64(*head),
                stream,
                to_i64(revision),
                event.id.as_bytes().as_slice(),
                event.event_type,
                content_type_to_sql(event.content_type),
                created,
                &event.data[..],
                &event.metadata[..],
            ])
            .map_err(sql_err)?;
        revision += 1;
    }
    let last = revision - 1;
    conn.prepare_cached(
        "INSERT INTO streams (name, last_revision, deleted) VALUES (?1, ?2, 0) \
         ON CONFLICT (name) DO UPDATE SET last_revision = excluded.last_revision, deleted = 0",
    )
    .and_then(|mut stmt| stmt.execute(params![stream, to_i64(last)]))
    .map_err(sql_err)?;
    state.last_revision = Some(last);
    state.deleted = false;
    truncate(conn, stream, &state)?;
    Ok(AppendResult {
        next_expected_revision: last,
        position: Position::new(*head, *head),
    })
}

/// Appends to each stream in turn. The caller (the writer) rolls every
/// stream back when one fails. Retries are recognised per stream, as
/// [`already_appended`] does for single appends.
fn append_streams(
    conn: &Connection,
    head: &mut u64,
    appends: &[StreamAppend],
) -> Result<MultiAppendResult, StoreError> {
    let mut streams = Vec::with_capacity(appends.len());
    let mut position: Option<Position> = None;
    for StreamAppend {
        stream,
        expected,
        events,
    } in appends
    {
        let result = append(conn, head, stream, *expected, events)?;
        let revision = if events.is_empty() && result.next_expected_revision == u64::MAX {
            CurrentRevision::NoStream
        } else {
            CurrentRevision::Current(result.next_expected_revision)
        };
        if !events.is_empty() {
            position = position.max(Some(result.position));
        }
        streams.push(StreamAppended {
            stream: stream.clone(),
            revision,
        });
    }
    Ok(MultiAppendResult { streams, position })
}

/// A retried append, as KurrentDB recognises one: the batch's event ids are
/// exactly the stream's events where the writer expects to append them
/// (right after the expected revision; for `Any` and `StreamExists`, the
/// stream's last events). The retry succeeds without writing anything again
/// and reports where those events are.
fn already_appended(
    conn: &Connection,
    stream: &str,
    state: &StreamState,
    expected: ExpectedRevision,
    events: &[NewEvent],
) -> Result<Option<AppendResult>, StoreError> {
    let CurrentRevision::Current(last) = state.current() else {
        return Ok(None);
    };
    let count = events.len() as u64;
    if count == 0 || count > last.saturating_add(1) {
        return Ok(None);
    }
    let first = match expected {
        ExpectedRevision::NoStream => 0,
        ExpectedRevision::Exact(revision) if revision < last => revision + 1,
        ExpectedRevision::Exact(_) => return Ok(None),
        ExpectedRevision::Any | ExpectedRevision::StreamExists => last + 1 - count,
    };
    let end = first + count - 1;
    if end > last {
        return Ok(None);
    }
    // Usually the last ids differ: one indexed lookup settles it.
    let stored_last: Option<Vec<u8>> = conn
        .prepare_cached("SELECT id FROM events WHERE stream = ?1 AND revision = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![stream, to_i64(end)], |row| row.get(0))
                .optional()
        })
        .map_err(sql_err)?;
    let batch_last = events.last().map(|e| e.id.as_bytes().to_vec());
    if stored_last.is_none() || stored_last != batch_last {
        return Ok(None);
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, position FROM events WHERE stream = ?1 AND revision BETWEEN ?2 AND ?3 \
             ORDER BY revision ASC",
        )
        .map_err(sql_err)?;
    let stored = stmt
        .query_map(params![stream, to_i64(first), to_i64(end)], |row| {
            Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, i64>(1)?))
        })
        .map_err(sql_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql_err)?;
    let same = stored.len() == events.len()
        && stored
            .iter()
            .zip(events)
            .all(|((id, _), event)| id.as_slice() == event.id.as_bytes());
    Ok(match stored.last() {
        Some((_, position)) if same => {
            let position = super::schema::from_i64(*position);
            Some(AppendResult {
                next_expected_revision: end,
                position: Position::new(position, position),
            })
        }
        _ => None,
    })
}

/// The result of an empty append: where the stream is. A stream without
/// events reports `u64::MAX` (KurrentDB's `-1`) and [`Position::START`].
fn current_state(
    conn: &Connection,
    stream: &str,
    state: &StreamState,
) -> Result<AppendResult, StoreError> {
    let CurrentRevision::Current(revision) = state.current() else {
        return Ok(AppendResult {
            next_expected_revision: u64::MAX,
            position: Position::START,
        });
    };
    let position: Option<i64> = conn
        .query_row(
            "SELECT MAX(position) FROM events WHERE stream = ?1",
            [stream],
            |row| row.get(0),
        )
        .map_err(sql_err)?;
    let position = super::schema::from_i64(position.unwrap_or(0));
    Ok(AppendResult {
        next_expected_revision: revision,
        position: Position::new(position, position),
    })
}

fn delete(conn: &Connection, stream: &str, expected: ExpectedRevision) -> Result<(), StoreError> {
    let state = StreamState::load(conn, stream)?;
    state.ensure_not_tombstoned(stream)?;
    if state.current() == CurrentRevision::NoStream {
        return match expected {
            ExpectedRevision::Any | ExpectedRevision::NoStream => {
                Err(StoreError::StreamNotFound(stream.to_owned()))
            }
            _ => state.check(stream, expected),
        };
    }
    state.check(stream, expected)?;
    conn.execute("DELETE FROM events WHERE stream = ?1", [stream])
        .map_err(sql_err)?;
    conn.execute(
        "UPDATE streams SET deleted = ?2 WHERE name = ?1",
        params![stream, SOFT_DELETED],
    )
    .map_err(sql_err)?;
    Ok(())
}

/// Deletes the stream for good. Like KurrentDB, a stream that never existed
/// can be tombstoned too (with `Any` or `NoStream`), reserving its name.
fn tombstone(
    conn: &Connection,
    stream: &str,
    expected: ExpectedRevision,
) -> Result<(), StoreError> {
    let state = StreamState::load(conn, stream)?;
    state.ensure_not_tombstoned(stream)?;
    state.check(stream, expected)?;
    conn.execute("DELETE FROM events WHERE stream = ?1", [stream])
        .map_err(sql_err)?;
    conn.execute(
        "INSERT INTO streams (name, deleted) VALUES (?1, ?2) \
         ON CONFLICT (name) DO UPDATE SET deleted = excluded.deleted",
        params![stream, TOMBSTONED],
    )
    .map_err(sql_err)?;
    Ok(())
}

fn set_metadata(
    conn: &Connection,
    stream: &str,
    metadata: &StreamMetadata,
) -> Result<(), StoreError> {
    StreamState::load(conn, stream)?.ensure_not_tombstoned(stream)?;
    let json = serde_json::to_string(metadata)
        .map_err(|e| StoreError::InvalidRequest(format!("metadata is not serializable: {e}")))?;
    conn.execute(
        "INSERT INTO streams (name, metadata) VALUES (?1, ?2) \
         ON CONFLICT (name) DO UPDATE SET metadata = excluded.metadata",
        params![stream, json],
    )
    .map_err(sql_err)?;
    let mut state = StreamState::load(conn, stream)?;
    state.metadata = Some(metadata.clone());
    truncate(conn, stream, &state)
}

/// Deletes the events `$maxCount` / `$tb` hide, like KurrentDB's scavenge
/// would (they also disappear from `$all`).
fn truncate(conn: &Connection, stream: &str, state: &StreamState) -> Result<(), StoreError> {
    if !state.truncates() {
        return Ok(());
    }
    let keep_from = state.first_kept_revision();
    if keep_from == 0 {
        return Ok(());
    }
    conn.prepare_cached("DELETE FROM events WHERE stream = ?1 AND revision < ?2")
        .and_then(|mut stmt| stmt.execute(params![stream, to_i64(keep_from)]))
        .map_err(sql_err)?;
    Ok(())
}
