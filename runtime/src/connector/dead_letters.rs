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

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ConnectorRepository, ConnectorState};
use crate::secrets::mask_urls;
use crate::sinks::envelope::{envelope, timestamp};
use crate::store::{Direction, NewEvent, RecordedEvent, StoreError, StreamStart};

pub(super) const DEAD_LETTER_EVENT: &str = "$ConnectorDeadLetter";

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
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredDeadLetter {
    /// Its revision in the dead-letter stream (what `from` pages by).
    pub revision: u64,
    /// When it was written (RFC 3339, UTC).
    pub dead_lettered_at: String,
    /// Which part refused the event, e.g. `sink` or `filter.jsonPath`.
    pub stage: String,
    pub reason: String,
    /// The destination's HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The start of the destination's answer, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// The refused event's envelope: id, stream, revision, position, type,
    /// created, content type, data and metadata.
    pub event: serde_json::Value,
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
        let letters = page
            .events
            .iter()
            .take(limit)
            .filter_map(|event| read_letter(event, connector))
            .collect();
        Ok(DeadLetterPage { letters, next_from })
    }
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
mod tests {
    use std::sync::Arc;

    use chrono::Duration;
    use serde_json::json;

    use super::*;
    use crate::connector::{Command, ConnectorDefinition, ConnectorEvent, ConnectorId};
    use crate::store::embedded::SqliteStore;
    use crate::store::ExpectedRevision;

    fn connector(incarnation: u64) -> ConnectorState {
        let id = ConnectorId::parse("hook").expect("id");
        let created = ConnectorEvent::Created {
            definition: serde_json::from_value(json!({ "sink": { "type": "console" } }))
                .expect("definition"),
            enabled: true,
            round: 0,
            end_at: None,
        };
        ConnectorState::fold(&id, [(incarnation, Utc::now(), &created)]).expect("state")
    }

    #[test]
    fn the_incarnation_is_the_revision_of_the_created_event() {
        assert_eq!(connector(7).incarnation, 7);
    }

    #[test]
    fn letters_of_another_incarnation_are_not_the_connectors() {
        let current = connector(3);
        let now = Utc::now();
        assert!(belongs_to(Some(3), now, &current));
        assert!(!belongs_to(Some(0), now, &current));
    }

    #[test]
    fn letters_without_an_incarnation_belong_to_the_life_they_postdate() {
        let current = connector(3);
        assert!(belongs_to(None, current.created, &current));
        assert!(!belongs_to(
            None,
            current.created - Duration::seconds(1),
            &current
        ));
    }

    fn definition() -> ConnectorDefinition {
        serde_json::from_value(json!({ "sink": { "type": "console" } })).expect("definition")
    }

    /// Refuses the event `n` of `orders-1` for `connector`.
    async fn refuse(repository: &ConnectorRepository, connector: &ConnectorState, n: u64) {
        let store = repository.store();
        let written = store
            .append(
                "orders-1",
                ExpectedRevision::Any,
                vec![NewEvent::json("OrderPlaced", &json!({ "n": n }))],
            )
            .await
            .expect("append");
        let event = store
            .read_stream(
                "orders-1",
                Direction::Forwards,
                StreamStart::Revision(written.next_expected_revision),
                1,
            )
            .await
            .expect("read")
            .remove(0);
        let letter = DeadLetter {
            event: &event,
            stage: "sink",
            reason: "HTTP 400",
            status: Some(400),
            response: None,
        };
        repository
            .dead_letter(connector, letter)
            .await
            .expect("dead letter");
    }

    fn numbers(page: &DeadLetterPage) -> Vec<serde_json::Value> {
        page.letters
            .iter()
            .map(|l| l.event["data"]["n"].clone())
            .collect()
    }

    #[tokio::test]
    async fn pages_follow_the_cursor_and_a_crash_after_delete_hides_old_letters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("events.db")).expect("store");
        let repository = ConnectorRepository::new(Arc::new(store));
        let id = ConnectorId::parse("hook").expect("id");
        let create = || Command::Create {
            definition: definition(),
            enable: true,
        };
        let first = repository.execute(&id, create()).await.expect("create");
        for n in 0..3 {
            refuse(&repository, &first, n).await;
        }
        let page = repository
            .dead_letters(&first, 0, 2, usize::MAX)
            .await
            .expect("page");
        assert_eq!(numbers(&page), [json!(0), json!(1)]);
        let next = page.next_from.expect("a next page");
        let page = repository
            .dead_letters(&first, next, 2, usize::MAX)
            .await
            .expect("page");
        assert_eq!((numbers(&page), page.next_from), (vec![json!(2)], None));

        // Deleted, then the node dies before it forgets the streams: the
        // old letters stay in the stream, and a late one from the old
        // pipeline joins them after the re-creation.
        repository
            .execute(&id, Command::Delete)
            .await
            .expect("delete");
        let second = repository.execute(&id, create()).await.expect("create");
        assert_ne!(first.incarnation, second.incarnation);
        refuse(&repository, &first, 3).await;
        refuse(&repository, &second, 4).await;
        let page = repository
            .dead_letters(&second, 0, 10, usize::MAX)
            .await
            .expect("page");
        assert_eq!((numbers(&page), page.next_from), (vec![json!(4)], None));
    }
}
