//! The event a dead letter holds: the original, read again from its
//! stream when it is still there, else rebuilt from the letter's envelope.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::super::error::ApiError;
use crate::connector::StoredDeadLetter;
use crate::store::{
    ContentType, Direction, EventStore, Position, RecordedEvent, StoreError, StreamStart,
};

/// The letter's original event: read again from its stream when it is
/// still there with the same id, else rebuilt from the stored envelope.
pub(super) async fn original(
    store: &dyn EventStore,
    letter: &StoredDeadLetter,
) -> Result<RecordedEvent, ApiError> {
    let rebuilt = rebuild(&letter.event);
    let read = store
        .read_stream(
            &rebuilt.stream,
            Direction::Forwards,
            StreamStart::Revision(rebuilt.revision),
            1,
        )
        .await;
    match read {
        Ok(mut events) => match events.pop() {
            Some(event) if event.id == rebuilt.id && event.revision == rebuilt.revision => {
                Ok(event)
            }
            _ => Ok(rebuilt),
        },
        Err(StoreError::StreamNotFound(_)) => Ok(rebuilt),
        Err(StoreError::Unavailable(why)) => Err(StoreError::Unavailable(why).into()),
        // A stream name the store refuses, say: the envelope is all there is.
        Err(_) => Ok(rebuilt),
    }
}

/// The event an envelope describes (see [`crate::sinks::envelope`]).
fn rebuild(envelope: &serde_json::Value) -> RecordedEvent {
    let text = |key: &str| envelope.get(key).and_then(|v| v.as_str());
    let number = |key: &str| envelope.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
    let bytes = |json: &str, base64: &str| match envelope.get(json) {
        Some(value) => serde_json::to_vec(value).unwrap_or_default(),
        None => text(base64)
            .and_then(|b| STANDARD.decode(b).ok())
            .unwrap_or_default(),
    };
    let position = number("position");
    RecordedEvent {
        id: text("id")
            .and_then(|id| Uuid::parse_str(id).ok())
            .unwrap_or_else(Uuid::new_v4),
        stream: text("stream").unwrap_or_default().to_owned(),
        revision: number("revision"),
        position: Position::new(position, position),
        event_type: text("type").unwrap_or_default().to_owned(),
        content_type: match text("contentType") {
            Some("application/json") => ContentType::Json,
            _ => ContentType::Binary,
        },
        created: text("created")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(Utc::now),
        data: bytes("data", "dataBase64").into(),
        metadata: bytes("metadata", "metadataBase64").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::summary_of;
    use super::*;
    use crate::sinks::envelope::envelope;

    fn event(data: &[u8], content_type: ContentType, metadata: &[u8]) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::new_v4(),
            stream: "orders-1".into(),
            revision: 7,
            position: Position::new(42, 42),
            event_type: "OrderPlaced".into(),
            content_type,
            created: DateTime::parse_from_rfc3339("2024-05-01T12:00:00.123Z")
                .expect("time")
                .with_timezone(&Utc),
            data: data.to_vec().into(),
            metadata: metadata.to_vec().into(),
        }
    }

    #[test]
    fn an_envelope_rebuilds_its_event() {
        for original in [
            event(br#"{"n":1}"#, ContentType::Json, br#"{"user":"ann"}"#),
            event(&[0, 159, 146, 150], ContentType::Binary, &[1, 2]),
            event(b"", ContentType::Binary, b""),
        ] {
            let rebuilt = rebuild(&envelope(&original));
            assert_eq!(rebuilt.id, original.id);
            assert_eq!(rebuilt.stream, original.stream);
            assert_eq!(rebuilt.revision, original.revision);
            assert_eq!(rebuilt.position.commit, original.position.commit);
            assert_eq!(rebuilt.event_type, original.event_type);
            assert_eq!(rebuilt.content_type, original.content_type);
            assert_eq!(rebuilt.created, original.created);
            assert_eq!(rebuilt.data, original.data);
            assert_eq!(rebuilt.metadata, original.metadata);
        }
    }

    #[tokio::test]
    async fn the_original_is_read_again_while_its_stream_still_has_it() {
        use crate::store::embedded::SqliteStore;
        use crate::store::{ExpectedRevision, NewEvent};

        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("events.db")).expect("store");
        store
            .append(
                "orders-1",
                ExpectedRevision::Any,
                vec![NewEvent::json(
                    "OrderPlaced",
                    &serde_json::json!({ "n": 1 }),
                )],
            )
            .await
            .expect("append");
        let stored = store
            .read_stream("orders-1", Direction::Forwards, StreamStart::Revision(0), 1)
            .await
            .expect("read")
            .remove(0);
        let letter = |event: serde_json::Value| StoredDeadLetter {
            revision: 0,
            dead_lettered_at: String::new(),
            stage: "sink".into(),
            reason: String::new(),
            status: None,
            response: None,
            event,
            replayed: None,
        };
        let same = original(&store, &letter(envelope(&stored)))
            .await
            .expect("original");
        assert_eq!(same, stored);

        // Another event now sits where the letter's was: the letter's own
        // copy is replayed.
        let mut gone = stored.clone();
        gone.id = Uuid::new_v4();
        gone.data = br#"{"n":2}"#.to_vec().into();
        let rebuilt = original(&store, &letter(envelope(&gone)))
            .await
            .expect("original");
        assert_eq!((rebuilt.id, &rebuilt.data), (gone.id, &gone.data));

        // A stream that is not there at all.
        gone.stream = "missing-1".into();
        let rebuilt = original(&store, &letter(envelope(&gone)))
            .await
            .expect("original");
        assert_eq!(rebuilt.stream, "missing-1");
    }

    #[test]
    fn the_answer_names_the_event_without_its_data() {
        let original = event(b"{}", ContentType::Json, b"");
        let shown = serde_json::to_value(summary_of(&envelope(&original))).expect("JSON");
        assert_eq!(
            shown,
            serde_json::json!({
                "id": original.id.to_string(),
                "stream": "orders-1",
                "revision": 7,
                "position": 42,
                "type": "OrderPlaced",
            })
        );
        let partial =
            serde_json::to_value(summary_of(&serde_json::json!({ "stream": "s" }))).expect("JSON");
        assert_eq!(partial, serde_json::json!({ "stream": "s" }));
    }
}
