//! Dead letters: events a stage or the sink refused for good, kept in
//! `$connectors/{id}/dead-letters` with the reason, and read back a page at
//! a time.
//!
//! A letter is one `$ConnectorDeadLetter` event:
//!
//! ```json
//! {"connectorId":"hook","incarnation":0,"stage":"sink","reason":"…",
//!  "status":400,"response":"…","event":{<the envelope of the refused event>}}
//! ```
//!
//! `incarnation` is the revision of the connector's `Created` event. A
//! connector deleted and created again under the same id is a new
//! incarnation; reads only return the letters of the current one. Deleting a
//! connector also soft-deletes its dead letters, but that is a second write
//! after the `Deleted` event: a crash between the two, or a late letter from
//! the old pipeline, leaves old letters in the stream, and the incarnation
//! keeps them out of the new connector's answers. Letters written before
//! incarnations were recorded belong to the incarnation they postdate.
//!
//! A replay of a letter records its outcome as a `$ConnectorDeadLetterReplayed`
//! event in the same stream, after the letter:
//!
//! ```json
//! {"connectorId":"hook","incarnation":0,"letter":3,"outcome":"failed",
//!  "stage":"sink","reason":"…"}
//! ```
//!
//! Such a record is not a letter: a page shows, on each letter, the last
//! replay recorded for it (`replayed`), found in the page and in the
//! stream after it (read on for at most [`REPLAY_SCAN_EVENTS`] events).
//!
//! A connector's letters are replayed by one replay at a time on a node
//! ([`ConnectorRepository::begin_replay`], in `replay_lock`): a second
//! replay of a connector while one runs is refused, so no letter is
//! delivered and recorded twice by two replays. The lock is per node, not
//! per cluster.

use std::collections::HashMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ConnectorId, ConnectorRepository, ConnectorState};
use crate::secrets::mask_urls;
use crate::sinks::envelope::{envelope, timestamp};
use crate::store::{Direction, ExpectedRevision, NewEvent, RecordedEvent, StoreError, StreamStart};

mod envelope_schema;
mod replay_lock;

pub use envelope_schema::EventEnvelopeSchema;
pub use replay_lock::{ReplayGuard, ReplayLocks, ReplayRunning};

pub(super) const DEAD_LETTER_EVENT: &str = "$ConnectorDeadLetter";
/// The event that records how a letter's replay ended.
pub(super) const REPLAYED_EVENT: &str = "$ConnectorDeadLetterReplayed";
/// How many events after a page are read to find the replays of its
/// letters.
pub const REPLAY_SCAN_EVENTS: usize = 100_000;
/// Events read at a time when looking for replays.
const REPLAY_SCAN_PAGE: usize = 1000;
/// Bytes read at a time when looking for replays.
const REPLAY_SCAN_PAGE_BYTES: usize = 8 * 1024 * 1024;

/// An event that could not be delivered, with why.
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    pub event: &'a RecordedEvent,
    /// Which part refused it, e.g. `sink`.
    pub stage: &'a str,
    pub reason: &'a str,
    pub status: Option<u16>,
    pub response: Option<&'a str>,
}

impl DeadLetter<'_> {
    /// The letter as it is stored, for `connector`'s current incarnation.
    pub(super) fn to_new_event(&self, connector: &ConnectorState) -> NewEvent {
        let body = serde_json::json!({
            "connectorId": connector.id,
            "incarnation": connector.incarnation,
            "stage": self.stage,
            "reason": mask_urls(self.reason),
            "status": self.status,
            "response": self.response.map(mask_urls),
            "event": envelope(self.event),
        });
        let mut event = NewEvent::json(DEAD_LETTER_EVENT, &body);
        event.metadata = Bytes::from(
            serde_json::to_vec(&serde_json::json!({
                "$causationId": self.event.id,
                "originalStream": self.event.stream,
                "originalPosition": self.event.position.commit,
            }))
            .unwrap_or_default(),
        );
        event
    }
}

/// A stored dead letter as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredDeadLetter {
    /// Its revision in the dead-letter stream (what `from` pages by).
    pub revision: u64,
    /// When it was written (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub dead_lettered_at: String,
    /// Which part refused the event, e.g. `sink` or `filter.jsonPath`.
    pub stage: String,
    /// Why it refused it (URLs' credentials and query values masked).
    pub reason: String,
    /// The destination's HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The start of the destination's answer, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// The refused event's envelope: id, stream, revision, position, type,
    /// created, content type, data and metadata.
    #[schema(value_type = EventEnvelopeSchema)]
    pub event: serde_json::Value,
    /// How the last replay of this letter ended, when it was replayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<LastReplay>,
}

/// How a replay of one letter ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum ReplayOutcome {
    /// The sink accepted what the current definition made of it.
    #[serde(rename = "delivered")]
    Delivered,
    /// The current filter or a transform dropped it.
    #[serde(rename = "dropped")]
    Dropped { stage: String },
    /// A stage or the sink refused it again (one attempt, no retries).
    #[serde(rename = "failed")]
    Failed { stage: String, reason: String },
}

impl ReplayOutcome {
    /// `delivered`, `dropped` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Dropped { .. } => "dropped",
            Self::Failed { .. } => "failed",
        }
    }
}

/// The last replay of a letter, as the listing shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastReplay {
    /// When it was recorded (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub at: String,
    /// `delivered`, `dropped` or `failed`.
    pub outcome: &'static str,
    /// The stage that dropped or refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl LastReplay {
    fn new(at: &DateTime<Utc>, outcome: &ReplayOutcome) -> Self {
        let (stage, reason) = match outcome {
            ReplayOutcome::Delivered => (None, None),
            ReplayOutcome::Dropped { stage } => (Some(stage.clone()), None),
            ReplayOutcome::Failed { stage, reason } => (Some(stage.clone()), Some(reason.clone())),
        };
        Self {
            at: timestamp(at),
            outcome: outcome.name(),
            stage,
            reason,
        }
    }

    /// Whether that replay delivered the letter.
    pub fn delivered(&self) -> bool {
        self.outcome == "delivered"
    }
}

/// The body of a replay record.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReplayBody {
    incarnation: u64,
    /// The revision of the replayed letter.
    letter: u64,
    #[serde(flatten)]
    outcome: ReplayOutcome,
}

/// The body of a stored letter, as far as reading needs it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LetterBody {
    incarnation: Option<u64>,
    stage: String,
    reason: String,
    status: Option<u16>,
    response: Option<String>,
    event: serde_json::Value,
}

/// One page of a connector's dead letters.
#[derive(Debug, Default)]
pub struct DeadLetterPage {
    pub letters: Vec<StoredDeadLetter>,
    /// Where the next page starts, when more letters may follow.
    pub next_from: Option<u64>,
}

impl ConnectorRepository {
    /// Takes `connector`'s place for a replay of its dead letters on this
    /// node, held until the guard is dropped; refused at once while
    /// another replay of it runs here.
    pub fn begin_replay(&self, connector: &ConnectorId) -> Result<ReplayGuard, ReplayRunning> {
        self.replays.try_begin(connector)
    }

    /// Reads the dead letters of `connector`'s current incarnation, from
    /// revision `from` of its dead-letter stream: at most `limit` stream
    /// events and about `max_bytes` of them. Letters of an earlier
    /// incarnation are skipped, so a page may hold fewer than `limit`;
    /// `next_from` says where to read on.
    pub async fn dead_letters(
        &self,
        connector: &ConnectorState,
        from: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<DeadLetterPage, StoreError> {
        // One more than asked for tells whether another page follows.
        let page = match self
            .store()
            .read_stream_page(
                &connector.id.dead_letter_stream(),
                Direction::Forwards,
                StreamStart::Revision(from),
                limit.saturating_add(1),
                max_bytes,
            )
            .await
        {
            Ok(page) => page,
            Err(StoreError::StreamNotFound(_)) => return Ok(DeadLetterPage::default()),
            Err(e) => return Err(e),
        };
        let next_from = match page.events.get(limit) {
            Some(first_of_next) => Some(first_of_next.revision),
            None if page.cut_short => page.events.last().map(|e| e.revision + 1),
            None => None,
        };
        let shown = &page.events[..page.events.len().min(limit)];
        let mut letters: Vec<StoredDeadLetter> = shown
            .iter()
            .filter_map(|event| read_letter(event, connector))
            .collect();
        let mut replays = HashMap::new();
        collect_replays(shown, connector, &mut replays);
        if let (false, Some(last)) = (letters.is_empty(), shown.last()) {
            self.collect_later_replays(connector, last.revision + 1, &mut replays)
                .await?;
        }
        for letter in &mut letters {
            letter.replayed = replays.remove(&letter.revision);
        }
        Ok(DeadLetterPage { letters, next_from })
    }

    /// Adds to `replays` the replays recorded from revision `from` of the
    /// dead-letter stream to its end (at most [`REPLAY_SCAN_EVENTS`]
    /// events).
    async fn collect_later_replays(
        &self,
        connector: &ConnectorState,
        mut from: u64,
        replays: &mut HashMap<u64, LastReplay>,
    ) -> Result<(), StoreError> {
        let stream = connector.id.dead_letter_stream();
        let mut scanned = 0;
        while scanned < REPLAY_SCAN_EVENTS {
            let page = match self
                .store()
                .read_stream_page(
                    &stream,
                    Direction::Forwards,
                    StreamStart::Revision(from),
                    REPLAY_SCAN_PAGE,
                    REPLAY_SCAN_PAGE_BYTES,
                )
                .await
            {
                Ok(page) => page,
                Err(StoreError::StreamNotFound(_)) => return Ok(()),
                Err(e) => return Err(e),
            };
            let Some(last) = page.events.last() else {
                return Ok(());
            };
            from = last.revision + 1;
            scanned += page.events.len();
            collect_replays(&page.events, connector, replays);
            if page.events.len() < REPLAY_SCAN_PAGE && !page.cut_short {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Records how the replay of letter `letter` (its revision in the
    /// dead-letter stream) of `connector` ended. A failure's reason is
    /// masked as a letter's is.
    pub async fn record_replay(
        &self,
        connector: &ConnectorState,
        letter: u64,
        outcome: &ReplayOutcome,
    ) -> Result<(), StoreError> {
        let outcome = match outcome {
            ReplayOutcome::Failed { stage, reason } => ReplayOutcome::Failed {
                stage: stage.clone(),
                reason: mask_urls(reason),
            },
            other => other.clone(),
        };
        let body = ReplayBody {
            incarnation: connector.incarnation,
            letter,
            outcome,
        };
        let mut value = serde_json::to_value(&body).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("connectorId".into(), connector.id.to_string().into());
        }
        self.store()
            .append(
                &connector.id.dead_letter_stream(),
                ExpectedRevision::Any,
                vec![NewEvent::json(REPLAYED_EVENT, &value)],
            )
            .await
            .map(|_| ())
    }
}

/// Adds to `replays` the replays among `events` of `connector`'s current
/// incarnation, the later one winning.
fn collect_replays(
    events: &[RecordedEvent],
    connector: &ConnectorState,
    replays: &mut HashMap<u64, LastReplay>,
) {
    for event in events {
        if let Some((letter, replay)) = read_replay(event, connector) {
            replays.insert(letter, replay);
        }
    }
}

/// The replay recorded in `event`, with its letter's revision, if it is one
/// of `connector`'s current incarnation.
fn read_replay(event: &RecordedEvent, connector: &ConnectorState) -> Option<(u64, LastReplay)> {
    if event.event_type != REPLAYED_EVENT {
        return None;
    }
    let body: ReplayBody = serde_json::from_slice(&event.data).ok()?;
    if body.incarnation != connector.incarnation {
        return None;
    }
    Some((body.letter, LastReplay::new(&event.created, &body.outcome)))
}

/// The letter stored in `event`, if it is one of `connector`'s current
/// incarnation.
fn read_letter(event: &RecordedEvent, connector: &ConnectorState) -> Option<StoredDeadLetter> {
    if event.event_type != DEAD_LETTER_EVENT {
        return None;
    }
    let body: LetterBody = serde_json::from_slice(&event.data).ok()?;
    if !belongs_to(body.incarnation, event.created, connector) {
        return None;
    }
    Some(StoredDeadLetter {
        revision: event.revision,
        dead_lettered_at: timestamp(&event.created),
        stage: body.stage,
        reason: body.reason,
        status: body.status,
        response: body.response,
        event: body.event,
        replayed: None,
    })
}

/// Whether a letter of `incarnation`, written at `written`, is one of
/// `connector`'s current life.
fn belongs_to(
    incarnation: Option<u64>,
    written: DateTime<Utc>,
    connector: &ConnectorState,
) -> bool {
    match incarnation {
        Some(incarnation) => incarnation == connector.incarnation,
        None => written >= connector.created,
    }
}

#[cfg(test)]
mod tests;
