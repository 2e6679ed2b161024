//! Reads of the embedded store bounded in bytes: a page of large events
//! stops at its byte budget and says so, and subscriptions catching up over
//! large events still deliver every event, in order.

use connectors::store::{
    embedded::SqliteStore, AllStart, Direction, EventStore, ExpectedRevision, NewEvent,
    StreamStart, SubscribeFrom, SubscriptionFilter, SubscriptionMessage,
};

const MIB: usize = 1024 * 1024;

/// A store holding `count` events of about `bytes` each in `large-1`.
async fn store_with_large_events(count: usize, bytes: usize) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("events.db")).expect("store");
    let payload = "x".repeat(bytes);
    for n in 0..count {
        let event = NewEvent::json("Large", &serde_json::json!({ "n": n, "payload": payload }));
        store
            .append("large-1", ExpectedRevision::Any, vec![event])
            .await
            .expect("append");
    }
    (dir, store)
}

fn number(data: &[u8]) -> u64 {
    let value: serde_json::Value = serde_json::from_slice(data).expect("JSON");
    value["n"].as_u64().expect("n")
}

#[tokio::test]
async fn stream_and_log_reads_of_large_events_stop_at_the_byte_budget() {
    let (_dir, store) = store_with_large_events(12, MIB).await;

    let page = store
        .read_stream_page(
            "large-1",
            Direction::Forwards,
            StreamStart::Start,
            4096,
            4 * MIB,
        )
        .await
        .expect("read");
    assert!(page.cut_short, "twelve 1 MiB events do not fit 4 MiB");
    assert_eq!(page.events.len(), 3, "whole events up to the budget");

    let page = store
        .read_all_page(Direction::Backwards, AllStart::End, 4096, 4 * MIB)
        .await
        .expect("read");
    assert!(page.cut_short);
    assert_eq!(page.events.len(), 3);
    assert_eq!(number(&page.events[0].data), 11, "backwards from the end");

    // A budget smaller than one event still makes progress.
    let page = store
        .read_stream_page(
            "large-1",
            Direction::Forwards,
            StreamStart::Revision(5),
            10,
            1,
        )
        .await
        .expect("read");
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].revision, 5);

    // Within the budget, a page is whole and not cut short.
    let page = store
        .read_stream_page(
            "large-1",
            Direction::Forwards,
            StreamStart::Start,
            2,
            16 * MIB,
        )
        .await
        .expect("read");
    assert!(!page.cut_short);
    assert_eq!(page.events.len(), 2);
}

#[tokio::test]
async fn catch_up_over_large_events_delivers_every_event_in_order() {
    // 40 events of 512 KiB: several catch-up pages of 8 MiB.
    let (_dir, store) = store_with_large_events(40, 512 * 1024).await;
    let mut subscription = store
        .subscribe_all(SubscribeFrom::Start, SubscriptionFilter::default())
        .await
        .expect("subscribe");
    let mut numbers = Vec::new();
    while numbers.len() < 40 {
        match subscription.next().await.expect("open").expect("no error") {
            SubscriptionMessage::Event(event) => numbers.push(number(&event.data)),
            SubscriptionMessage::CaughtUp => break,
            SubscriptionMessage::Checkpoint(_) => {}
        }
    }
    assert_eq!(numbers, (0..40).collect::<Vec<u64>>());
}
