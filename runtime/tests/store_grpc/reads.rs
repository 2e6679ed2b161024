//! Reads through the protocol match the embedded store's own; tombstones.

use super::*;

/// Every field read through the protocol equals the embedded store's own
/// read, `created` to the 100 ns tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_match_the_embedded_store() {
    let node = Node::start(None).await;
    let store = node.client();
    let stream = unique("same");
    let mut written = events("Same", 3);
    written[1].metadata = br#"{"k":"v"}"#.to_vec().into();
    store
        .append(&stream, ExpectedRevision::NoStream, written)
        .await
        .expect("append");
    let remote = store
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("read through gRPC");
    let local = node
        .store
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("read the SQLite store");
    assert_eq!(remote, local);

    let metadata = StreamMetadata {
        max_count: Some(10),
        max_age: Some(3_600),
        truncate_before: Some(1),
        custom: serde_json::Map::from_iter([("owner".to_owned(), serde_json::json!("me"))]),
    };
    store
        .set_stream_metadata(&stream, metadata.clone())
        .await
        .expect("set metadata");
    let local = node.store.stream_metadata(&stream).await.expect("metadata");
    assert_eq!(local, Some(metadata), "metadata as the store keeps it");

    let missing = unique("empty-append");
    let r = store
        .append(&missing, ExpectedRevision::Any, Vec::new())
        .await
        .expect("empty append to a missing stream");
    let local = node
        .store
        .append(&missing, ExpectedRevision::Any, Vec::new())
        .await
        .expect("the same, on the store");
    assert_eq!(r, local, "an empty append to a missing stream");
    node.server.shutdown().await;
}

/// A missing stream can be tombstoned, which reserves its name; a tombstone
/// checks the expected revision, and reads of a tombstoned stream fail with
/// `StreamDeleted` in both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tombstones() {
    let node = Node::start(None).await;
    let store = node.client();

    let never = unique("never-written");
    store
        .tombstone_stream(&never, ExpectedRevision::NoStream)
        .await
        .expect("tombstone a stream that never existed");
    let append = store
        .append(&never, ExpectedRevision::Any, events("Late", 1))
        .await;
    assert!(
        matches!(&append, Err(StoreError::StreamDeleted(s)) if *s == never),
        "append after the tombstone: {append:?}"
    );
    let metadata = store.set_stream_metadata(&never, Default::default()).await;
    assert!(
        matches!(metadata, Err(StoreError::StreamDeleted(_))),
        "metadata after the tombstone: {metadata:?}"
    );

    let stream = unique("tombstoned");
    store
        .append(&stream, ExpectedRevision::NoStream, events("Doomed", 3))
        .await
        .expect("append");
    let wrong = store
        .tombstone_stream(&stream, ExpectedRevision::NoStream)
        .await;
    assert!(
        matches!(
            wrong,
            Err(StoreError::WrongExpectedRevision {
                current: connectors::store::CurrentRevision::Current(2),
                ..
            })
        ),
        "tombstone with NoStream on an existing stream: {wrong:?}"
    );
    store
        .tombstone_stream(&stream, ExpectedRevision::StreamExists)
        .await
        .expect("tombstone an existing stream");
    for (direction, from) in [
        (Direction::Forwards, StreamStart::Start),
        (Direction::Backwards, StreamStart::End),
    ] {
        let read = store.read_stream(&stream, direction, from, 10).await;
        assert!(
            matches!(&read, Err(StoreError::StreamDeleted(s)) if *s == stream),
            "{direction:?} read after the tombstone: {read:?}"
        );
    }
    let local = node
        .store
        .read_stream(&stream, Direction::Forwards, StreamStart::Start, 10)
        .await;
    assert!(
        matches!(local, Err(StoreError::StreamDeleted(_))),
        "the tombstone reached the store: {local:?}"
    );
    node.server.shutdown().await;
}
