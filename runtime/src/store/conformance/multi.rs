//! Atomic appends to several streams: revisions and positions, each kind of
//! expected revision, all-or-nothing failures, check-only streams, refused
//! requests, and the events' place in `$all`.

use super::{binary_event, ids, json_events, read_whole, revisions, unique_stream};
use crate::store::{
    AllStart, CurrentRevision, Direction, EventStore, ExpectedRevision, MultiAppendResult,
    NewEvent, RecordedEvent, StoreError, StreamAppend,
};

async fn append_streams(
    store: &dyn EventStore,
    appends: Vec<StreamAppend>,
    what: &str,
) -> MultiAppendResult {
    match store.append_streams(appends).await {
        Ok(result) => result,
        Err(e) => panic!("{what}: {e}"),
    }
}

async fn append(store: &dyn EventStore, stream: &str, events: Vec<NewEvent>) {
    if let Err(e) = store.append(stream, ExpectedRevision::Any, events).await {
        panic!("append to `{stream}`: {e}");
    }
}

/// The events of `stream`, or none when it has none (never written,
/// deleted).
async fn events_of(store: &dyn EventStore, stream: &str) -> Vec<RecordedEvent> {
    match store
        .read_stream(
            stream,
            Direction::Forwards,
            crate::store::StreamStart::Start,
            1000,
        )
        .await
    {
        Ok(events) => events,
        Err(StoreError::StreamNotFound(_)) => Vec::new(),
        Err(e) => panic!("reading `{stream}`: {e}"),
    }
}

fn revision_of(result: &MultiAppendResult, stream: &str) -> CurrentRevision {
    match result.streams.iter().find(|s| s.stream == stream) {
        Some(appended) => appended.revision,
        None => panic!("no result for `{stream}` in {result:?}"),
    }
}

/// Every stream's events are written, each stream gets its revisions, and
/// the answer names the streams in order with the position of the last
/// event; in `$all` the events follow one another in the order given, with
/// nothing in between.
pub async fn multi_append_across_streams(store: &dyn EventStore) {
    let orders = unique_stream("multi-orders");
    let payments = unique_stream("multi-payments");
    let mut paid = binary_event("PaymentTaken", &[0, 1, 2, 255]);
    paid.metadata = br#"{"tenant":"acme"}"#.to_vec().into();
    let order_events = json_events("OrderPlaced", 2);
    let payment_events = vec![paid, binary_event("PaymentSettled", b"ok")];
    append(store, &payments, json_events("PaymentOpened", 1)).await;

    let result = append_streams(
        store,
        vec![
            StreamAppend::new(&orders, ExpectedRevision::NoStream, order_events.clone()),
            StreamAppend::new(
                &payments,
                ExpectedRevision::Exact(0),
                payment_events.clone(),
            ),
        ],
        "append to two streams",
    )
    .await;
    let names: Vec<&str> = result.streams.iter().map(|s| s.stream.as_str()).collect();
    assert_eq!(
        names,
        vec![orders.as_str(), payments.as_str()],
        "streams in order"
    );
    assert_eq!(revision_of(&result, &orders), CurrentRevision::Current(1));
    assert_eq!(revision_of(&result, &payments), CurrentRevision::Current(2));

    let orders_read = read_whole(store, &orders).await;
    let payments_read = read_whole(store, &payments).await;
    assert_eq!(revisions(&orders_read), vec![0, 1], "orders revisions");
    assert_eq!(
        revisions(&payments_read),
        vec![0, 1, 2],
        "payments revisions"
    );
    let written: Vec<RecordedEvent> = orders_read
        .iter()
        .chain(&payments_read[1..])
        .cloned()
        .collect();
    let sent: Vec<&NewEvent> = order_events.iter().chain(&payment_events).collect();
    for (got, sent) in written.iter().zip(&sent) {
        assert_eq!(got.id, sent.id, "id");
        assert_eq!(got.event_type, sent.event_type, "type of {}", got.id);
        assert_eq!(
            got.content_type, sent.content_type,
            "content type of {}",
            got.id
        );
        assert_eq!(got.data, sent.data, "data of {}", got.id);
        assert_eq!(
            metadata(&got.metadata),
            metadata(&sent.metadata),
            "metadata of {}",
            got.id
        );
    }
    assert_eq!(
        result.position,
        written.last().map(|e| e.position),
        "the position of the last event written"
    );

    let first = written[0].position;
    let from_all = match store
        .read_all(
            Direction::Forwards,
            AllStart::Position(first),
            written.len(),
        )
        .await
    {
        Ok(events) => events,
        Err(e) => panic!("read $all from {first}: {e}"),
    };
    assert_eq!(
        ids(&from_all),
        ids(&written),
        "in $all the events are contiguous, in the order given"
    );
}

/// Metadata compared as JSON when it is JSON (backends may re-encode it).
fn metadata(bytes: &[u8]) -> serde_json::Value {
    if bytes.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(bytes).unwrap_or_else(|_| serde_json::Value::from(bytes.to_vec()))
}

/// Each kind of expected revision holds per stream: no stream, any, an
/// existing stream, an exact revision.
pub async fn multi_append_expected_states(store: &dyn EventStore) {
    let fresh = unique_stream("multi-fresh");
    let anything = unique_stream("multi-any");
    let existing = unique_stream("multi-exists");
    let exact = unique_stream("multi-exact");
    append(store, &existing, json_events("Opened", 1)).await;
    append(store, &exact, json_events("Opened", 3)).await;
    let result = append_streams(
        store,
        vec![
            StreamAppend::new(&fresh, ExpectedRevision::NoStream, json_events("A", 1)),
            StreamAppend::new(&anything, ExpectedRevision::Any, json_events("B", 2)),
            StreamAppend::new(
                &existing,
                ExpectedRevision::StreamExists,
                json_events("C", 1),
            ),
            StreamAppend::new(&exact, ExpectedRevision::Exact(2), json_events("D", 2)),
        ],
        "one stream per kind of expected revision",
    )
    .await;
    assert_eq!(revision_of(&result, &fresh), CurrentRevision::Current(0));
    assert_eq!(revision_of(&result, &anything), CurrentRevision::Current(1));
    assert_eq!(revision_of(&result, &existing), CurrentRevision::Current(1));
    assert_eq!(revision_of(&result, &exact), CurrentRevision::Current(4));
}

/// One wrong expectation fails the whole append with that stream's error
/// and leaves every stream as it was.
pub async fn multi_append_wrong_expectation_writes_nothing(store: &dyn EventStore) {
    let good = unique_stream("multi-good");
    let bad = unique_stream("multi-bad");
    let untouched = unique_stream("multi-untouched");
    append(store, &good, json_events("Opened", 1)).await;
    append(store, &bad, json_events("Opened", 2)).await;
    let before_good = read_whole(store, &good).await;
    let before_bad = read_whole(store, &bad).await;
    for (expected, what) in [
        (ExpectedRevision::Exact(0), "an old revision"),
        (ExpectedRevision::NoStream, "no stream"),
        (ExpectedRevision::Exact(7), "a revision not reached"),
    ] {
        let outcome = store
            .append_streams(vec![
                StreamAppend::new(&good, ExpectedRevision::Exact(0), json_events("Good", 2)),
                StreamAppend::new(
                    &untouched,
                    ExpectedRevision::NoStream,
                    json_events("New", 1),
                ),
                StreamAppend::new(&bad, expected, json_events("Bad", 1)),
            ])
            .await;
        match outcome {
            Err(StoreError::WrongExpectedRevision {
                stream,
                expected: reported,
                current,
            }) => {
                assert_eq!(stream, bad, "{what}: the error names the stream");
                assert_eq!(reported, expected, "{what}: the expectation");
                assert_eq!(current, CurrentRevision::Current(1), "{what}: where it is");
            }
            other => panic!("{what}: expected WrongExpectedRevision, got {other:?}"),
        }
        assert_eq!(
            read_whole(store, &good).await,
            before_good,
            "{what}: good untouched"
        );
        assert_eq!(
            read_whole(store, &bad).await,
            before_bad,
            "{what}: bad untouched"
        );
        assert!(
            events_of(store, &untouched).await.is_empty(),
            "{what}: the new stream was not created"
        );
    }
    let outcome = store
        .append_streams(vec![
            StreamAppend::new(&good, ExpectedRevision::Exact(0), json_events("Good", 1)),
            StreamAppend::new(
                &untouched,
                ExpectedRevision::StreamExists,
                json_events("New", 1),
            ),
        ])
        .await;
    match outcome {
        Err(StoreError::WrongExpectedRevision {
            stream, current, ..
        }) => {
            assert_eq!(stream, untouched, "the missing stream is named");
            assert_eq!(current, CurrentRevision::NoStream);
        }
        other => panic!("stream exists for a missing stream: got {other:?}"),
    }
    assert_eq!(
        read_whole(store, &good).await,
        before_good,
        "good untouched"
    );
}

/// A stream without events is a condition: checked, never written; when
/// every stream is only checked, nothing is written and there is no
/// position.
pub async fn multi_append_check_only_streams(store: &dyn EventStore) {
    let written = unique_stream("multi-written");
    let guard = unique_stream("multi-guard");
    let missing = unique_stream("multi-missing");
    append(store, &guard, json_events("Owned", 2)).await;
    let result = append_streams(
        store,
        vec![
            StreamAppend::new(&guard, ExpectedRevision::Exact(1), Vec::new()),
            StreamAppend::new(&missing, ExpectedRevision::NoStream, Vec::new()),
            StreamAppend::new(
                &written,
                ExpectedRevision::Any,
                json_events("Checkpoint", 1),
            ),
        ],
        "a write guarded by two checks",
    )
    .await;
    assert_eq!(revision_of(&result, &guard), CurrentRevision::Current(1));
    assert_eq!(revision_of(&result, &missing), CurrentRevision::NoStream);
    assert_eq!(revision_of(&result, &written), CurrentRevision::Current(0));
    assert_eq!(
        read_whole(store, &guard).await.len(),
        2,
        "the guard is only checked"
    );
    assert!(
        events_of(store, &missing).await.is_empty(),
        "a check creates nothing"
    );

    let refused = store
        .append_streams(vec![
            StreamAppend::new(&guard, ExpectedRevision::Exact(0), Vec::new()),
            StreamAppend::new(
                &written,
                ExpectedRevision::Any,
                json_events("Checkpoint", 1),
            ),
        ])
        .await;
    match refused {
        Err(StoreError::WrongExpectedRevision { stream, .. }) => assert_eq!(stream, guard),
        other => panic!("a failed check: expected WrongExpectedRevision, got {other:?}"),
    }
    assert_eq!(
        read_whole(store, &written).await.len(),
        1,
        "nothing written after a failed check"
    );

    let only_checks = append_streams(
        store,
        vec![StreamAppend::new(
            &guard,
            ExpectedRevision::StreamExists,
            Vec::new(),
        )],
        "checks only",
    )
    .await;
    assert_eq!(only_checks.position, None, "nothing written, no position");
    assert_eq!(
        revision_of(&only_checks, &guard),
        CurrentRevision::Current(1)
    );
}

/// A tombstoned stream fails the append as deleted, naming it, and nothing
/// is written; a soft-deleted stream is recreated, its revisions go on.
pub async fn multi_append_to_deleted_streams(store: &dyn EventStore) {
    let other = unique_stream("multi-other");
    let tombstoned = unique_stream("multi-tombstoned");
    let soft = unique_stream("multi-soft");
    append(store, &tombstoned, json_events("Opened", 1)).await;
    append(store, &soft, json_events("Opened", 2)).await;
    if let Err(e) = store
        .tombstone_stream(&tombstoned, ExpectedRevision::Any)
        .await
    {
        panic!("tombstone: {e}");
    }
    if let Err(e) = store.delete_stream(&soft, ExpectedRevision::Any).await {
        panic!("delete: {e}");
    }
    let outcome = store
        .append_streams(vec![
            StreamAppend::new(&other, ExpectedRevision::Any, json_events("Other", 1)),
            StreamAppend::new(&tombstoned, ExpectedRevision::Any, json_events("Again", 1)),
        ])
        .await;
    match outcome {
        Err(StoreError::StreamDeleted(stream)) => assert_eq!(stream, tombstoned),
        other => panic!("append to a tombstoned stream: expected StreamDeleted, got {other:?}"),
    }
    assert!(events_of(store, &other).await.is_empty(), "nothing written");

    let result = append_streams(
        store,
        vec![
            StreamAppend::new(&soft, ExpectedRevision::NoStream, json_events("Again", 1)),
            StreamAppend::new(&other, ExpectedRevision::NoStream, json_events("Other", 1)),
        ],
        "append to a soft-deleted stream",
    )
    .await;
    assert_eq!(revision_of(&result, &soft), CurrentRevision::Current(2));
    assert_eq!(revisions(&read_whole(store, &soft).await), vec![2]);
}

/// No streams, a stream twice (whatever its case), and what a single
/// append refuses are refused before anything is written.
pub async fn multi_append_refuses_bad_requests(store: &dyn EventStore) {
    let stream = unique_stream("multi-refused");
    let other = unique_stream("multi-refused-other");
    let cases: Vec<(&str, Vec<StreamAppend>)> = vec![
        ("no streams", Vec::new()),
        (
            "the same stream twice",
            vec![
                StreamAppend::new(&stream, ExpectedRevision::Any, json_events("A", 1)),
                StreamAppend::new(&other, ExpectedRevision::Any, json_events("B", 1)),
                StreamAppend::new(&stream, ExpectedRevision::Any, json_events("C", 1)),
            ],
        ),
        (
            "the same stream in another case",
            vec![
                StreamAppend::new(&stream, ExpectedRevision::Any, json_events("A", 1)),
                StreamAppend::new(
                    stream.to_uppercase(),
                    ExpectedRevision::Any,
                    json_events("B", 1),
                ),
            ],
        ),
        (
            "an empty stream name",
            vec![
                StreamAppend::new(&stream, ExpectedRevision::Any, json_events("A", 1)),
                StreamAppend::new("", ExpectedRevision::Any, json_events("B", 1)),
            ],
        ),
        (
            "a metadata stream",
            vec![StreamAppend::new(
                format!("$${stream}"),
                ExpectedRevision::Any,
                json_events("A", 1),
            )],
        ),
        (
            "an event without a type",
            vec![
                StreamAppend::new(&stream, ExpectedRevision::Any, json_events("A", 1)),
                StreamAppend::new(&other, ExpectedRevision::Any, json_events("", 1)),
            ],
        ),
    ];
    for (what, appends) in cases {
        match store.append_streams(appends).await {
            Err(StoreError::InvalidRequest(message)) => {
                assert!(!message.is_empty(), "{what}: an explanation")
            }
            other => panic!("{what}: expected InvalidRequest, got {other:?}"),
        }
    }
    assert!(
        events_of(store, &stream).await.is_empty(),
        "nothing written"
    );
    assert!(events_of(store, &other).await.is_empty(), "nothing written");
}

/// Sending the same append again (same event ids, same expectations), as a
/// writer does after a lost answer, writes nothing twice and answers as the
/// first time.
pub async fn multi_append_retry_is_idempotent(store: &dyn EventStore) {
    let first = unique_stream("multi-retry-a");
    let second = unique_stream("multi-retry-b");
    append(store, &second, json_events("Opened", 1)).await;
    let appends = vec![
        StreamAppend::new(&first, ExpectedRevision::NoStream, json_events("A", 2)),
        StreamAppend::new(&second, ExpectedRevision::Exact(0), json_events("B", 1)),
    ];
    let original = append_streams(store, appends.clone(), "the first attempt").await;
    let retried = append_streams(store, appends, "the retry").await;
    assert_eq!(retried, original, "the retry answers as the first attempt");
    assert_eq!(read_whole(store, &first).await.len(), 2, "written once");
    assert_eq!(read_whole(store, &second).await.len(), 2, "written once");
}
