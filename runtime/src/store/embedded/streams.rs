//! Per-stream state (the `streams` table): current revision, soft delete,
//! metadata, and which revisions are visible because of it.

use rusqlite::{Connection, OptionalExtension};

use super::schema::{from_i64, now_micros, sql_err};
use crate::store::{CurrentRevision, ExpectedRevision, StoreError, StreamMetadata};

/// `streams.deleted` of a live stream.
pub(super) const NOT_DELETED: i64 = 0;
/// `streams.deleted` of a soft-deleted stream (a later append revives it).
pub(super) const SOFT_DELETED: i64 = 1;
/// `streams.deleted` of a tombstoned stream (deleted for good).
pub(super) const TOMBSTONED: i64 = 2;

/// A row of the `streams` table.
#[derive(Debug, Clone, Default)]
pub(super) struct StreamState {
    /// The revision of the last event ever written, kept across soft deletes.
    pub last_revision: Option<u64>,
    /// Soft-deleted and not written since.
    pub deleted: bool,
    /// Deleted for good: no append, read or delete will ever succeed.
    pub tombstoned: bool,
    pub metadata: Option<StreamMetadata>,
}

impl StreamState {
    /// Loads the stream's row; a stream without a row has the default state.
    pub fn load(conn: &Connection, stream: &str) -> Result<StreamState, StoreError> {
        let row: Option<(Option<i64>, i64, Option<String>)> = conn
            .prepare_cached("SELECT last_revision, deleted, metadata FROM streams WHERE name = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([stream], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .optional()
            })
            .map_err(sql_err)?;
        let Some((last_revision, deleted, metadata)) = row else {
            return Ok(StreamState::default());
        };
        let metadata = match metadata {
            Some(json) => Some(serde_json::from_str(&json).map_err(|e| {
                StoreError::Unavailable(format!("stream `{stream}` has corrupt metadata: {e}"))
            })?),
            None => None,
        };
        Ok(StreamState {
            last_revision: last_revision.map(from_i64),
            deleted: deleted != NOT_DELETED,
            tombstoned: deleted == TOMBSTONED,
            metadata,
        })
    }

    /// Fails with [`StoreError::StreamDeleted`] when the stream was tombstoned.
    pub fn ensure_not_tombstoned(&self, stream: &str) -> Result<(), StoreError> {
        if self.tombstoned {
            Err(StoreError::StreamDeleted(stream.to_owned()))
        } else {
            Ok(())
        }
    }

    /// Where the stream is for expected-revision checks: a soft-deleted
    /// stream counts as not existing.
    pub fn current(&self) -> CurrentRevision {
        match self.last_revision {
            Some(revision) if !self.deleted => CurrentRevision::Current(revision),
            _ => CurrentRevision::NoStream,
        }
    }

    /// Fails with [`StoreError::WrongExpectedRevision`] unless the stream is
    /// where the caller expects it. As on KurrentDB, a soft-deleted stream
    /// is where a writer expecting no stream expects it, and also where one
    /// expecting its last revision before the delete does.
    pub fn check(&self, stream: &str, expected: ExpectedRevision) -> Result<(), StoreError> {
        let current = self.current();
        let ok = match expected {
            ExpectedRevision::Any => true,
            ExpectedRevision::NoStream => current == CurrentRevision::NoStream,
            ExpectedRevision::StreamExists => current != CurrentRevision::NoStream,
            ExpectedRevision::Exact(revision) if self.deleted => {
                self.last_revision == Some(revision)
            }
            ExpectedRevision::Exact(revision) => current == CurrentRevision::Current(revision),
        };
        if ok {
            Ok(())
        } else {
            Err(StoreError::WrongExpectedRevision {
                stream: stream.to_owned(),
                expected,
                current,
            })
        }
    }

    /// The revision of the next event appended.
    pub fn next_revision(&self) -> u64 {
        self.last_revision.map_or(0, |r| r.saturating_add(1))
    }

    /// The lowest revision `$maxCount` and `$tb` leave visible (events below
    /// it may be deleted physically).
    pub fn first_kept_revision(&self) -> u64 {
        let Some(metadata) = &self.metadata else {
            return 0;
        };
        let by_count = match (metadata.max_count, self.last_revision) {
            (Some(max), Some(last)) => last.saturating_add(1).saturating_sub(max),
            _ => 0,
        };
        by_count.max(metadata.truncate_before.unwrap_or(0))
    }

    /// Whether the stream's metadata truncates it (so appends must delete).
    pub fn truncates(&self) -> bool {
        self.metadata
            .as_ref()
            .is_some_and(|m| m.max_count.is_some() || m.truncate_before.is_some())
    }

    /// Events created before this time (unix micros) are hidden by `$maxAge`.
    pub fn created_cutoff(&self) -> i64 {
        match self.metadata.as_ref().and_then(|m| m.max_age) {
            Some(seconds) => {
                let micros = i64::try_from(seconds)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1_000_000);
                now_micros().saturating_sub(micros)
            }
            None => i64::MIN,
        }
    }
}
