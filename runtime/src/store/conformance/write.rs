//! Appends: round trips, expected revisions, atomicity, validation, head.

use chrono::Utc;

use super::{
    assert_wrong_revision, binary_event, ids, json_events, read_whole, revisions, unique_stream,
};
use crate::store::{
    AllStart, ContentType, CurrentRevision, Direction, EventStore, ExpectedRevision, NewEvent,
    StoreError, StreamStart,
};

/// Every field of appended events reads back as written.
pub async fn append_and_read_back(store: &dyn EventStore) {
    let stream = unique_stream("roundtrip");
    let mut with_metadata = NewEvent::json("OrderPlaced", &serde_json::json!({ "total": 12.5 }));
    with_metadata.metadata = br#"{"$correlationId":"abc"}"#.to_vec().into();
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let mut binary = binary_event("Blob", &all_bytes);
    binary.metadata = vec![0u8, 1, 2, 255].into();
    let empty = binary_event("Empty", &[]);
    let written = vec![with_metadata, binary, empty];

    let before = Utc::now();
    let result = store
        .append(&stream, ExpectedRevision::NoStream, written.clone())
        .await
        .expect("append to a new stream");
    assert_eq!(
        result.next_expected_revision, 2,
        "revision of the last event"
    );

    let read = read_whole(store, &stream).await;
    assert_eq!(read.len(), written.len(), "all events read back");
    for (i, (got, sent)) in read.iter().zip(&written).enumerate() {
        assert_eq!(got.id, sent.id, "event {i}: id");
        assert_eq!(got.stream, stream, "event {i}: stream");
        assert_eq!(got.revision, i as u64, "event {i}: revision");
        assert_eq!(got.event_type, sent.event_type, "event {i}: type");
        assert_eq!(
            got.content_type, sent.content_type,
            "event {i}: content type"
        );
        assert_eq!(got.data, sent.data, "event {i}: data");
        assert_eq!(got.metadata, sent.metadata, "event {i}: metadata");
        let skew = (got.created - before).num_seconds().abs();
        assert!(
            skew < 60,
            "event {i}: created {} is not close to now",
            got.created
        );
    }
    assert_eq!(
        read[0].content_type,
        ContentType::Json,
        "JSON content type kept"
    );
    for pair in read.windows(2) {
        assert!(
            pair[1].position > pair[0].position,
            "positions must strictly increase"
        );
    }
    assert_eq!(
        read.last().map(|e| e.position),
        Some(result.position),
        "the append reports the position of its last event"
    );

    let from_all = store
        .read_all(Direction::Forwards, AllStart::Position(read[0].position), 1)
        .await
        .expect("read $all at the first event");
    assert_eq!(
        ids(&from_all),
        vec![read[0].id],
        "$all holds the event at its position"
    );
    assert_eq!(from_all[0], read[0], "$all and stream reads agree");
}

/// Each expected-revision kind succeeds and fails as specified.
pub async fn expected_revision_checks(store: &dyn EventStore) {
    let stream = unique_stream("expected");
    let one = || json_events("Checked", 1);
    let no = CurrentRevision::NoStream;
    assert_wrong_revision(
        store
            .append(&stream, ExpectedRevision::StreamExists, one())
            .await,
        no,
        "StreamExists on a new stream",
    );
    assert_wrong_revision(
        store
            .append(&stream, ExpectedRevision::Exact(0), one())
            .await,
        no,
        "Exact(0) on a new stream",
    );
    let r = store
        .append(&stream, ExpectedRevision::NoStream, one())
        .await
        .expect("NoStream on a new stream");
    assert_eq!(r.next_expected_revision, 0, "first revision is 0");

    let at0 = CurrentRevision::Current(0);
    assert_wrong_revision(
        store
            .append(&stream, ExpectedRevision::NoStream, one())
            .await,
        at0,
        "NoStream on an existing stream",
    );
    assert_wrong_revision(
        store
            .append(&stream, ExpectedRevision::Exact(1), one())
            .await,
        at0,
        "Exact(1) on a stream at 0",
    );
    let r = store
        .append(&stream, ExpectedRevision::Exact(0), one())
        .await
        .expect("Exact(0) on a stream at 0");
    assert_eq!(r.next_expected_revision, 1, "Exact append");
    let r = store
        .append(&stream, ExpectedRevision::StreamExists, one())
        .await
        .expect("StreamExists on an existing stream");
    assert_eq!(r.next_expected_revision, 2, "StreamExists append");
    let r = store
        .append(&stream, ExpectedRevision::Any, json_events("Checked", 2))
        .await
        .expect("Any on an existing stream");
    assert_eq!(r.next_expected_revision, 4, "Any append of two events");
    assert_eq!(
        revisions(&read_whole(store, &stream).await),
        vec![0, 1, 2, 3, 4]
    );

    let fresh = unique_stream("expected-any");
    let r = store
        .append(&fresh, ExpectedRevision::Any, one())
        .await
        .expect("Any on a new stream");
    assert_eq!(r.next_expected_revision, 0, "Any creates the stream");
}

/// A batch rejected by its expected revision writes none of its events.
pub async fn failed_append_writes_nothing(store: &dyn EventStore) {
    let stream = unique_stream("atomic");
    store
        .append(&stream, ExpectedRevision::NoStream, json_events("Kept", 2))
        .await
        .expect("first append");
    assert_wrong_revision(
        store
            .append(&stream, ExpectedRevision::Exact(5), json_events("Lost", 3))
            .await,
        CurrentRevision::Current(1),
        "Exact(5) on a stream at 1",
    );
    let read = read_whole(store, &stream).await;
    assert_eq!(
        revisions(&read),
        vec![0, 1],
        "the failed batch wrote nothing"
    );
    assert!(
        read.iter().all(|e| e.event_type == "Kept"),
        "no event of the failed batch"
    );

    let missing = unique_stream("atomic-missing");
    assert_wrong_revision(
        store
            .append(
                &missing,
                ExpectedRevision::StreamExists,
                json_events("Lost", 2),
            )
            .await,
        CurrentRevision::NoStream,
        "StreamExists on a new stream",
    );
    let read = store
        .read_stream(&missing, Direction::Forwards, StreamStart::Start, 10)
        .await;
    assert!(
        matches!(read, Err(StoreError::StreamNotFound(_))),
        "a failed first append does not create the stream: {read:?}"
    );
}

/// An empty batch checks the expected revision and reports the stream's state.
pub async fn empty_append_only_checks(store: &dyn EventStore) {
    let stream = unique_stream("empty");
    let written = store
        .append(&stream, ExpectedRevision::NoStream, json_events("Some", 3))
        .await
        .expect("first append");
    let r = store
        .append(&stream, ExpectedRevision::Exact(2), Vec::new())
        .await
        .expect("empty append at the right revision");
    assert_eq!(
        r.next_expected_revision, 2,
        "empty append reports the revision"
    );
    assert_eq!(
        r.position, written.position,
        "empty append reports the last position"
    );
    assert_wrong_revision(
        store
            .append(&stream, ExpectedRevision::Exact(7), Vec::new())
            .await,
        CurrentRevision::Current(2),
        "empty append at the wrong revision",
    );
    assert_eq!(
        read_whole(store, &stream).await.len(),
        3,
        "nothing was added"
    );
}

/// Empty stream names, empty event types and metadata streams are refused.
pub async fn invalid_requests_are_rejected(store: &dyn EventStore) {
    let result = store
        .append("", ExpectedRevision::Any, json_events("Nameless", 1))
        .await;
    assert!(
        matches!(result, Err(StoreError::InvalidRequest(_))),
        "empty stream name: {result:?}"
    );
    let stream = unique_stream("invalid");
    let mut untyped = json_events("Typed", 2);
    untyped[1].event_type.clear();
    let result = store.append(&stream, ExpectedRevision::Any, untyped).await;
    assert!(
        matches!(result, Err(StoreError::InvalidRequest(_))),
        "empty event type: {result:?}"
    );
    let meta = format!("$${stream}");
    let result = store
        .append(&meta, ExpectedRevision::Any, json_events("Meta", 1))
        .await;
    assert!(
        matches!(result, Err(StoreError::InvalidRequest(_))),
        "append to a metadata stream: {result:?}"
    );
    let read = store
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await;
    assert!(
        matches!(read, Err(StoreError::StreamNotFound(_))),
        "rejected appends wrote nothing: {read:?}"
    );
}

/// The head position covers every acknowledged append and grows.
pub async fn head_position_grows(store: &dyn EventStore) {
    let stream = unique_stream("head");
    store
        .append(&stream, ExpectedRevision::Any, json_events("Tick", 1))
        .await
        .expect("first append");
    let before = store.head_position().await.expect("head_position");
    assert!(before.is_some(), "a store with events has a head");
    let result = store
        .append(&stream, ExpectedRevision::Any, json_events("Tick", 1))
        .await
        .expect("second append");
    let after = store.head_position().await.expect("head_position");
    assert!(after > before, "head grows: {before:?} -> {after:?}");
    assert!(
        after >= Some(result.position),
        "head {after:?} covers the appended position {}",
        result.position
    );
}

/// A retried append (the same event ids where the writer expected them)
/// succeeds without writing the events again, as in KurrentDB.
pub async fn retried_append_is_idempotent(store: &dyn EventStore) {
    let stream = unique_stream("idempotent");
    let first = json_events("Once", 3);
    let written = store
        .append(&stream, ExpectedRevision::NoStream, first.clone())
        .await
        .expect("first append");
    let retried = store
        .append(&stream, ExpectedRevision::NoStream, first.clone())
        .await
        .expect("the same batch with NoStream again is a retry");
    assert_eq!(retried, written, "a retry reports where the events are");

    let second = json_events("Twice", 2);
    let written = store
        .append(&stream, ExpectedRevision::Exact(2), second.clone())
        .await
        .expect("second append");
    let retried = store
        .append(&stream, ExpectedRevision::Exact(2), second.clone())
        .await
        .expect("the same batch at the same revision again is a retry");
    assert_eq!(retried, written);
    let retried = store
        .append(&stream, ExpectedRevision::Any, second.clone())
        .await
        .expect("the same last events with Any again is a retry");
    assert_eq!(retried.next_expected_revision, 4);
    assert_eq!(
        ids(&read_whole(store, &stream).await),
        first
            .iter()
            .chain(&second)
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        "nothing was written twice"
    );

    let mut mixed = second.clone();
    mixed[1] = json_events("Other", 1).remove(0);
    assert_wrong_revision(
        store
            .append(&stream, ExpectedRevision::Exact(2), mixed)
            .await,
        CurrentRevision::Current(4),
        "a batch that only partly matches is not a retry",
    );
    assert_wrong_revision(
        store
            .append(&stream, ExpectedRevision::NoStream, json_events("New", 1))
            .await,
        CurrentRevision::Current(4),
        "new events with NoStream on an existing stream",
    );
}
