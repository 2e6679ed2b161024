//! Reads of one stream and of `$all`.

use super::{ids, json_events, revisions, unique_stream};
use crate::store::{AllStart, Direction, EventStore, ExpectedRevision, StoreError, StreamStart};

/// Stream reads honour direction, start revision (inclusive) and count.
pub async fn read_stream_ranges(store: &dyn EventStore) {
    let stream = unique_stream("ranges");
    store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            json_events("Counted", 10),
        )
        .await
        .expect("append 10 events");
    let read = |direction, from, max| {
        let stream = stream.clone();
        async move {
            match store.read_stream(&stream, direction, from, max).await {
                Ok(events) => revisions(&events),
                Err(e) => panic!("read {direction:?} from {from:?} max {max}: {e}"),
            }
        }
    };
    use Direction::{Backwards, Forwards};
    assert_eq!(
        read(Forwards, StreamStart::Start, 3).await,
        vec![0, 1, 2],
        "first 3"
    );
    assert_eq!(
        read(Forwards, StreamStart::Start, 100).await,
        (0..10).collect::<Vec<_>>(),
        "all forwards"
    );
    assert_eq!(
        read(Forwards, StreamStart::Revision(5), 100).await,
        vec![5, 6, 7, 8, 9],
        "forwards from 5 (inclusive)"
    );
    assert_eq!(
        read(Forwards, StreamStart::Revision(5), 2).await,
        vec![5, 6],
        "2 forwards from 5"
    );
    assert_eq!(
        read(Forwards, StreamStart::End, 10).await,
        Vec::<u64>::new(),
        "forwards from End"
    );
    assert_eq!(
        read(Forwards, StreamStart::Revision(10), 10).await,
        Vec::<u64>::new(),
        "forwards past the end"
    );
    assert_eq!(
        read(Backwards, StreamStart::End, 3).await,
        vec![9, 8, 7],
        "last 3 backwards"
    );
    assert_eq!(
        read(Backwards, StreamStart::Revision(4), 2).await,
        vec![4, 3],
        "2 backwards from 4 (inclusive)"
    );
    assert_eq!(
        read(Backwards, StreamStart::Revision(2), 100).await,
        vec![2, 1, 0],
        "backwards from 2 to the start"
    );
}

/// Reading a stream that was never written fails with `StreamNotFound`.
pub async fn missing_stream_is_not_found(store: &dyn EventStore) {
    let stream = unique_stream("missing");
    for (direction, from) in [
        (Direction::Forwards, StreamStart::Start),
        (Direction::Backwards, StreamStart::End),
    ] {
        let result = store.read_stream(&stream, direction, from, 10).await;
        assert!(
            matches!(&result, Err(StoreError::StreamNotFound(s)) if *s == stream),
            "{direction:?} read of a missing stream: {result:?}"
        );
    }
}

/// `$all` reads go by position, inclusive of the start, in both directions.
pub async fn read_all_ranges(store: &dyn EventStore) {
    let stream = unique_stream("all");
    store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            json_events("Logged", 5),
        )
        .await
        .expect("append 5 events");
    let mine = super::read_whole(store, &stream).await;
    let ours = |events: Vec<crate::store::RecordedEvent>| -> Vec<crate::store::RecordedEvent> {
        events.into_iter().filter(|e| e.stream == stream).collect()
    };

    let forwards = store
        .read_all(
            Direction::Forwards,
            AllStart::Position(mine[1].position),
            1000,
        )
        .await
        .expect("read $all forwards");
    assert_eq!(
        forwards.first().map(|e| e.id),
        Some(mine[1].id),
        "forwards starts at `from`"
    );
    for pair in forwards.windows(2) {
        assert!(
            pair[1].position > pair[0].position,
            "forwards: positions increase"
        );
    }
    assert_eq!(
        ids(&ours(forwards)),
        ids(&mine[1..]),
        "forwards: our events in order"
    );

    let backwards = store
        .read_all(
            Direction::Backwards,
            AllStart::Position(mine[3].position),
            1000,
        )
        .await
        .expect("read $all backwards");
    assert_eq!(
        backwards.first().map(|e| e.id),
        Some(mine[3].id),
        "backwards starts at `from`"
    );
    for pair in backwards.windows(2) {
        assert!(
            pair[1].position < pair[0].position,
            "backwards: positions decrease"
        );
    }
    let expected: Vec<_> = mine[..4].iter().rev().map(|e| e.id).collect();
    assert_eq!(
        ids(&ours(backwards)),
        expected,
        "backwards: our events in reverse order"
    );

    let limited = store
        .read_all(Direction::Forwards, AllStart::Position(mine[0].position), 2)
        .await
        .expect("read 2 from $all");
    assert_eq!(limited.len(), 2, "read_all honours max");

    let last = store
        .read_all(Direction::Backwards, AllStart::End, 1)
        .await
        .expect("read $all backwards from the end");
    assert_eq!(last.len(), 1, "the end of a non-empty log has an event");
    assert!(
        last[0].position >= mine[4].position,
        "the end is at or after our last event"
    );

    let first = store
        .read_all(Direction::Forwards, AllStart::Start, 1)
        .await
        .expect("read $all forwards from the start");
    assert_eq!(first.len(), 1, "the start of a non-empty log has an event");
    assert!(
        first[0].position <= mine[0].position,
        "the start is at or before our first event"
    );

    let past_end = store
        .read_all(Direction::Forwards, AllStart::End, 10)
        .await
        .expect("read $all forwards from the end");
    assert!(past_end.is_empty(), "nothing after the end: {past_end:?}");
}
