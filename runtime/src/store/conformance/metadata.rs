//! Stream metadata (`$maxCount`, custom keys) and soft deletes.

use super::{assert_wrong_revision, json_events, read_whole, revisions, unique_stream};
use crate::store::{
    CurrentRevision, Direction, EventStore, ExpectedRevision, StoreError, StreamMetadata,
    StreamStart,
};

async fn set_metadata(store: &dyn EventStore, stream: &str, metadata: StreamMetadata) {
    if let Err(e) = store.set_stream_metadata(stream, metadata).await {
        panic!("set_stream_metadata on `{stream}` failed: {e}");
    }
}

fn max_count(n: u64) -> StreamMetadata {
    StreamMetadata {
        max_count: Some(n),
        ..StreamMetadata::default()
    }
}

/// Metadata reads back as set; a stream without metadata has none.
pub async fn stream_metadata_round_trip(store: &dyn EventStore) {
    let stream = unique_stream("metadata");
    let none = store
        .stream_metadata(&stream)
        .await
        .expect("stream_metadata");
    assert_eq!(none, None, "no metadata before it is set");

    let mut metadata = StreamMetadata {
        max_age: Some(86_400),
        ..StreamMetadata::default()
    };
    metadata
        .custom
        .insert("owner".into(), serde_json::json!({ "team": "connectors" }));
    set_metadata(store, &stream, metadata.clone()).await;
    let got = store
        .stream_metadata(&stream)
        .await
        .expect("stream_metadata");
    assert_eq!(got, Some(metadata), "metadata round-trips");

    set_metadata(store, &stream, max_count(5)).await;
    let got = store
        .stream_metadata(&stream)
        .await
        .expect("stream_metadata");
    assert_eq!(got, Some(max_count(5)), "setting metadata replaces it");
}

/// `$maxCount` keeps only the last N events visible, before and after it is
/// set, in both directions.
pub async fn max_count_keeps_last_events(store: &dyn EventStore) {
    let stream = unique_stream("max-count");
    set_metadata(store, &stream, max_count(3)).await;
    store
        .append(&stream, ExpectedRevision::NoStream, json_events("Kept", 5))
        .await
        .expect("append 5 events");
    assert_eq!(
        revisions(&read_whole(store, &stream).await),
        vec![2, 3, 4],
        "last 3 of 5"
    );
    let backwards = store
        .read_stream(&stream, Direction::Backwards, StreamStart::End, 10)
        .await
        .expect("read backwards");
    assert_eq!(revisions(&backwards), vec![4, 3, 2], "last 3 backwards");

    let r = store
        .append(&stream, ExpectedRevision::Exact(4), json_events("Kept", 2))
        .await
        .expect("append 2 more with the real revision");
    assert_eq!(
        r.next_expected_revision, 6,
        "hidden events still count for revisions"
    );
    assert_eq!(
        revisions(&read_whole(store, &stream).await),
        vec![4, 5, 6],
        "still the last 3"
    );

    set_metadata(store, &stream, max_count(1)).await;
    assert_eq!(
        revisions(&read_whole(store, &stream).await),
        vec![6],
        "a lower $maxCount applies right away"
    );
}

/// A soft-deleted stream reads as not found; appending again recreates it
/// and continues its revisions.
/// As on KurrentDB, a soft-deleted stream also takes its last revision
/// before the delete as the expected one: to append (recreating it) and to
/// tombstone it. Once recreated, it is a stream again.
pub async fn soft_deleted_stream_takes_its_last_revision(store: &dyn EventStore) {
    let recreated = unique_stream("delete-revision");
    let tombstoned = unique_stream("delete-tombstone");
    for stream in [&recreated, &tombstoned] {
        store
            .append(stream, ExpectedRevision::NoStream, json_events("Old", 3))
            .await
            .expect("append 3 events");
        store
            .delete_stream(stream, ExpectedRevision::Exact(2))
            .await
            .expect("delete at revision 2");
    }
    let r = store
        .append(
            &recreated,
            ExpectedRevision::Exact(2),
            json_events("New", 1),
        )
        .await
        .expect("recreate expecting the last revision");
    assert_eq!(r.next_expected_revision, 3, "revisions continue");
    assert_wrong_revision(
        store
            .append(
                &recreated,
                ExpectedRevision::NoStream,
                json_events("New", 1),
            )
            .await,
        CurrentRevision::Current(3),
        "NoStream once recreated",
    );
    assert_wrong_revision(
        store
            .append(
                &tombstoned,
                ExpectedRevision::Exact(1),
                json_events("New", 1),
            )
            .await,
        CurrentRevision::NoStream,
        "another revision of a soft-deleted stream",
    );
    store
        .tombstone_stream(&tombstoned, ExpectedRevision::Exact(2))
        .await
        .expect("tombstone a soft-deleted stream at its last revision");
    let append = store
        .append(&tombstoned, ExpectedRevision::Any, json_events("New", 1))
        .await;
    assert!(
        matches!(append, Err(StoreError::StreamDeleted(_))),
        "tombstoned: {append:?}"
    );
}

pub async fn soft_delete_then_recreate(store: &dyn EventStore) {
    let stream = unique_stream("delete");
    store
        .append(&stream, ExpectedRevision::NoStream, json_events("Old", 3))
        .await
        .expect("append 3 events");
    assert_wrong_revision(
        store
            .delete_stream(&stream, ExpectedRevision::Exact(1))
            .await,
        CurrentRevision::Current(2),
        "delete at the wrong revision",
    );
    assert_eq!(
        read_whole(store, &stream).await.len(),
        3,
        "a failed delete deletes nothing"
    );
    store
        .delete_stream(&stream, ExpectedRevision::Exact(2))
        .await
        .expect("delete at the right revision");
    let read = store
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await;
    assert!(
        matches!(read, Err(StoreError::StreamNotFound(_))),
        "a deleted stream is not found: {read:?}"
    );
    assert_wrong_revision(
        store
            .append(
                &stream,
                ExpectedRevision::StreamExists,
                json_events("New", 1),
            )
            .await,
        CurrentRevision::NoStream,
        "StreamExists on a deleted stream",
    );

    let new = json_events("New", 1);
    let new_id = new[0].id;
    let r = store
        .append(&stream, ExpectedRevision::NoStream, new)
        .await
        .expect("recreate with NoStream");
    assert_eq!(
        r.next_expected_revision, 3,
        "revisions continue after a delete"
    );
    let read = read_whole(store, &stream).await;
    assert_eq!(revisions(&read), vec![3], "only the new event is visible");
    assert_eq!(read[0].id, new_id, "the new event");
    let r = store
        .append(&stream, ExpectedRevision::Exact(3), json_events("New", 1))
        .await
        .expect("append to the recreated stream");
    assert_eq!(r.next_expected_revision, 4, "the recreated stream goes on");
}

/// Deleting a stream that does not exist fails.
pub async fn delete_missing_stream(store: &dyn EventStore) {
    let stream = unique_stream("delete-missing");
    let result = store.delete_stream(&stream, ExpectedRevision::Any).await;
    assert!(
        matches!(result, Err(StoreError::StreamNotFound(_))),
        "delete of a missing stream with Any: {result:?}"
    );
    assert_wrong_revision(
        store
            .delete_stream(&stream, ExpectedRevision::Exact(5))
            .await,
        CurrentRevision::NoStream,
        "delete of a missing stream with Exact(5)",
    );
}

/// A tombstoned stream is gone for good: reads, appends, deletes and
/// metadata changes fail with `StreamDeleted`; other streams are untouched.
pub async fn tombstone_is_final(store: &dyn EventStore) {
    let stream = unique_stream("tombstone");
    let bystander = unique_stream("tombstone-bystander");
    store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            json_events("Doomed", 2),
        )
        .await
        .expect("append 2 events");
    store
        .append(
            &bystander,
            ExpectedRevision::NoStream,
            json_events("Kept", 1),
        )
        .await
        .expect("append to the bystander");
    assert_wrong_revision(
        store
            .tombstone_stream(&stream, ExpectedRevision::Exact(0))
            .await,
        CurrentRevision::Current(1),
        "tombstone at the wrong revision",
    );
    store
        .tombstone_stream(&stream, ExpectedRevision::Exact(1))
        .await
        .expect("tombstone at the right revision");

    let read = store
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await;
    assert!(
        matches!(read, Err(StoreError::StreamDeleted(_))),
        "reading a tombstoned stream: {read:?}"
    );
    let append = store
        .append(&stream, ExpectedRevision::Any, json_events("Again", 1))
        .await;
    assert!(
        matches!(append, Err(StoreError::StreamDeleted(_))),
        "appending to a tombstoned stream: {append:?}"
    );
    let delete = store.delete_stream(&stream, ExpectedRevision::Any).await;
    assert!(
        matches!(delete, Err(StoreError::StreamDeleted(_))),
        "deleting a tombstoned stream: {delete:?}"
    );
    let metadata = store.stream_metadata(&stream).await;
    assert!(
        matches!(metadata, Err(StoreError::StreamDeleted(_))),
        "the metadata of a tombstoned stream: {metadata:?}"
    );
    let again = store.tombstone_stream(&stream, ExpectedRevision::Any).await;
    assert!(
        matches!(again, Err(StoreError::StreamDeleted(_))),
        "tombstoning twice: {again:?}"
    );
    assert_eq!(
        read_whole(store, &bystander).await.len(),
        1,
        "other streams keep their events"
    );
}
