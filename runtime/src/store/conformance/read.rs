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

/// Pages bounded in bytes: a page of large events stops at its budget and
/// says so, always holds at least one event, and pages followed one after
/// the other read every event once, in order.
pub async fn pages_stop_at_their_byte_budget(store: &dyn EventStore) {
    let stream = unique_stream("pages");
    let payload = vec![7u8; 100 * 1024];
    let events: Vec<_> = (0..40)
        .map(|_| super::binary_event("Paged", &payload))
        .collect();
    let written = store
        .append(&stream, ExpectedRevision::NoStream, events)
        .await
        .expect("append 40 events of 100 KiB");
    let budget = 1024 * 1024;

    let page = store
        .read_stream_page(
            &stream,
            Direction::Forwards,
            StreamStart::Start,
            100,
            budget,
        )
        .await
        .expect("read a page");
    assert!(page.cut_short, "4 MiB of events do not fit a 1 MiB page");
    assert_eq!(revisions(&page.events), (0..10).collect::<Vec<_>>());

    let page = store
        .read_stream_page(&stream, Direction::Backwards, StreamStart::End, 100, 1)
        .await
        .expect("read a page");
    assert_eq!(
        revisions(&page.events),
        vec![39],
        "one event, whatever the budget"
    );

    // Followed page by page, with more events than one chunk of a backend
    // that reads in chunks.
    let mut seen = Vec::new();
    let mut from = StreamStart::Start;
    loop {
        let page = store
            .read_stream_page(&stream, Direction::Forwards, from, 100, 2 * budget)
            .await
            .expect("read a page");
        seen.extend(revisions(&page.events));
        match page.events.last() {
            Some(last) if page.cut_short => from = StreamStart::Revision(last.revision + 1),
            _ => break,
        }
    }
    assert_eq!(seen, (0..40).collect::<Vec<_>>(), "every event once");

    let whole = store
        .read_stream_page(
            &stream,
            Direction::Forwards,
            StreamStart::Start,
            100,
            usize::MAX,
        )
        .await
        .expect("read a page");
    assert!(!whole.cut_short);
    assert_eq!(revisions(&whole.events), (0..40).collect::<Vec<_>>());

    // `$all` from the last event, backwards: positions only go down, none twice.
    let page = store
        .read_all_page(
            Direction::Backwards,
            AllStart::Position(written.position),
            100,
            budget,
        )
        .await
        .expect("read a page of $all");
    assert!(page.cut_short, "4 MiB of events do not fit a 1 MiB page");
    assert!(!page.events.is_empty() && page.events.len() <= 10);
    assert_eq!(page.events[0].position, written.position);
    let positions: Vec<_> = page.events.iter().map(|e| e.position).collect();
    assert!(
        positions.windows(2).all(|w| w[0] > w[1]),
        "strictly backwards: {positions:?}"
    );
}
