//! `$all` subscriptions: start positions, catch-up then live, filters, and
//! checkpoints.

use uuid::Uuid;

use super::{
    events_until, head, ids, json_events, next_message, read_whole, token, unique_stream, WAIT,
};
use crate::store::{
    EventStore, ExpectedRevision, Matcher, NewEvent, Pattern, SubscribeFrom, SubscriptionFilter,
    SubscriptionMessage,
};

fn stream_prefix(prefix: &str) -> SubscriptionFilter {
    SubscriptionFilter {
        stream: Some(Matcher::Prefixes(vec![prefix.to_owned()])),
        ..SubscriptionFilter::default()
    }
}

fn regex(pattern: &str) -> Matcher {
    match Pattern::new(pattern) {
        Ok(regex) => Matcher::Regex(regex),
        Err(e) => panic!("bad test regex {pattern}: {e}"),
    }
}

async fn append(store: &dyn EventStore, stream: &str, events: Vec<NewEvent>) {
    if let Err(e) = store.append(stream, ExpectedRevision::Any, events).await {
        panic!("append to `{stream}` failed: {e}");
    }
}

/// A subscription after a position starts with the next event.
pub async fn subscribe_after_position_is_exclusive(store: &dyn EventStore) {
    let stream = unique_stream("exclusive");
    append(store, &stream, json_events("Seen", 3)).await;
    let written = read_whole(store, &stream).await;
    let mut sub = store
        .subscribe_all(
            SubscribeFrom::After(written[0].position),
            stream_prefix(&stream),
        )
        .await
        .expect("subscribe after the first event");
    let got = events_until(&mut sub, written[2].id, "subscribe after a position").await;
    assert_eq!(
        ids(&got),
        ids(&written[1..]),
        "events after the position, in order"
    );
}

/// A subscription from the end sees only events appended afterwards.
pub async fn subscribe_from_end_sees_only_new_events(store: &dyn EventStore) {
    let stream = unique_stream("from-end");
    append(store, &stream, json_events("Old", 2)).await;
    let mut sub = store
        .subscribe_all(SubscribeFrom::End, stream_prefix(&stream))
        .await
        .expect("subscribe from the end");
    let new = json_events("New", 2);
    let new_ids: Vec<Uuid> = new.iter().map(|e| e.id).collect();
    append(store, &stream, new).await;
    let got = events_until(&mut sub, new_ids[1], "subscribe from the end").await;
    assert_eq!(ids(&got), new_ids, "only the new events");
}

/// Catch-up delivers existing events, then `CaughtUp`, then live appends.
pub async fn subscription_catches_up_then_goes_live(store: &dyn EventStore) {
    let stream = unique_stream("live");
    let from = head(store).await;
    let old = json_events("Before", 3);
    let old_ids: Vec<Uuid> = old.iter().map(|e| e.id).collect();
    append(store, &stream, old).await;
    let mut sub = store
        .subscribe_all(from, stream_prefix(&stream))
        .await
        .expect("subscribe");

    let mut caught_up_with = Vec::new();
    loop {
        match next_message(&mut sub, "catching up").await {
            SubscriptionMessage::Event(event) => caught_up_with.push(event.id),
            SubscriptionMessage::CaughtUp => break,
            SubscriptionMessage::Checkpoint(_) => {}
        }
    }
    assert_eq!(
        caught_up_with, old_ids,
        "catch-up delivers the existing events first"
    );

    let live = json_events("After", 2);
    let live_ids: Vec<Uuid> = live.iter().map(|e| e.id).collect();
    append(store, &stream, live).await;
    let got = events_until(&mut sub, live_ids[1], "live").await;
    assert_eq!(ids(&got), live_ids, "live events after CaughtUp");
    assert_eq!(got[0].revision, 3, "revisions continue");
}

/// Subscribes from the head, appends `writes` in order, and checks that the
/// filter delivers exactly `expected` (whose last id must be the last match).
async fn check_filter(
    store: &dyn EventStore,
    filter: SubscriptionFilter,
    writes: Vec<(String, NewEvent)>,
    expected: Vec<Uuid>,
    what: &str,
) {
    let from = head(store).await;
    let mut sub = store.subscribe_all(from, filter).await.expect("subscribe");
    for (stream, event) in writes {
        append(store, &stream, vec![event]).await;
    }
    let last = *expected.last().expect("a filter check expects events");
    let got = events_until(&mut sub, last, what).await;
    assert_eq!(ids(&got), expected, "{what}: exactly the matching events");
}

fn event(event_type: &str) -> NewEvent {
    json_events(event_type, 1).remove(0)
}

/// Stream-prefix filters deliver only the streams with that prefix.
pub async fn filter_stream_prefix(store: &dyn EventStore) {
    let base = unique_stream("prefix");
    let (a, b) = (format!("{base}-a"), format!("{base}-b"));
    let writes = vec![
        (format!("{a}-1"), event("E")),
        (b.clone(), event("E")),
        (format!("{a}-2"), event("E")),
    ];
    let expected = vec![writes[0].1.id, writes[2].1.id];
    check_filter(store, stream_prefix(&a), writes, expected, "stream prefix").await;
}

/// Stream-regex filters deliver only the streams the regex matches.
pub async fn filter_stream_regex(store: &dyn EventStore) {
    let base = unique_stream("regex");
    let writes = vec![
        (format!("{base}-a"), event("E")),
        (format!("{base}-b"), event("E")),
        (format!("{base}-c"), event("E")),
    ];
    let expected = vec![writes[0].1.id, writes[2].1.id];
    let filter = SubscriptionFilter {
        stream: Some(regex(&format!("^{base}-(a|c)$"))),
        ..SubscriptionFilter::default()
    };
    check_filter(store, filter, writes, expected, "stream regex").await;
}

/// Event-type-prefix filters deliver only the types with that prefix.
pub async fn filter_event_type_prefix(store: &dyn EventStore) {
    let stream = unique_stream("type-prefix");
    let t = token();
    let writes = vec![
        (stream.clone(), event(&format!("Wanted{t}Created"))),
        (stream.clone(), event(&format!("Other{t}"))),
        (stream.clone(), event(&format!("Wanted{t}Updated"))),
    ];
    let expected = vec![writes[0].1.id, writes[2].1.id];
    let filter = SubscriptionFilter {
        event_type: Some(Matcher::Prefixes(vec![format!("Wanted{t}")])),
        ..SubscriptionFilter::default()
    };
    check_filter(store, filter, writes, expected, "event type prefix").await;
}

/// Event-type-regex filters deliver only the types the regex matches.
pub async fn filter_event_type_regex(store: &dyn EventStore) {
    let stream = unique_stream("type-regex");
    let t = token();
    let writes = vec![
        (stream.clone(), event(&format!("A{t}"))),
        (stream.clone(), event(&format!("B{t}"))),
        (stream.clone(), event(&format!("C{t}"))),
    ];
    let expected = vec![writes[0].1.id, writes[2].1.id];
    let filter = SubscriptionFilter {
        event_type: Some(regex(&format!("^(A|C){t}$"))),
        ..SubscriptionFilter::default()
    };
    check_filter(store, filter, writes, expected, "event type regex").await;
}

/// .NET-only syntax (look-ahead, backreferences) works as KurrentDB's
/// filters do: here a negative look-ahead on stream names, the form the
/// official clients use to exclude streams.
pub async fn filter_look_around_regex(store: &dyn EventStore) {
    let stream = unique_stream("look-around");
    let skipped = format!("{stream}-skipped");
    let writes = vec![
        (stream.clone(), event("Kept")),
        (skipped.clone(), event("Skipped")),
        (stream.clone(), event("KeptToo")),
    ];
    let expected = vec![writes[0].1.id, writes[2].1.id];
    let filter = SubscriptionFilter {
        stream: Some(regex(&format!("^{}(?!-skipped)", regex::escape(&stream)))),
        ..SubscriptionFilter::default()
    };
    check_filter(store, filter, writes, expected, "look-around regex").await;
}

/// `$`-typed events are filtered out unless the filter includes them.
pub async fn system_events_excluded_unless_asked(store: &dyn EventStore) {
    let stream = unique_stream("system");
    let from = head(store).await;
    let system = event(&format!("$system-{}", token()));
    let normal = event("Normal");
    let (system_id, normal_id) = (system.id, normal.id);
    append(store, &stream, vec![system, normal]).await;

    let mut sub = store
        .subscribe_all(from, SubscriptionFilter::default())
        .await
        .expect("subscribe with the default filter");
    let got = events_until(&mut sub, normal_id, "default filter").await;
    assert!(
        got.iter().all(|e| !e.is_system()),
        "no system events by default"
    );
    let ours: Vec<Uuid> = got
        .iter()
        .filter(|e| e.stream == stream)
        .map(|e| e.id)
        .collect();
    assert_eq!(
        ours,
        vec![normal_id],
        "default filter: only the normal event"
    );

    let mut sub = store
        .subscribe_all(from, SubscriptionFilter::everything())
        .await
        .expect("subscribe to everything");
    let got = events_until(&mut sub, normal_id, "everything").await;
    let ours: Vec<Uuid> = got
        .iter()
        .filter(|e| e.stream == stream)
        .map(|e| e.id)
        .collect();
    assert_eq!(ours, vec![system_id, normal_id], "system events when asked");
}

/// A filter that matches nothing still reports checkpoints that move past
/// the events appended after it started.
pub async fn checkpoints_advance_without_matches(store: &dyn EventStore) {
    let stream = unique_stream("checkpoints");
    let from = head(store).await;
    let filter = SubscriptionFilter {
        checkpoint_interval: 1,
        ..stream_prefix(&unique_stream("nothing"))
    };
    let mut sub = store.subscribe_all(from, filter).await.expect("subscribe");
    let result = store
        .append(&stream, ExpectedRevision::Any, json_events("Unmatched", 10))
        .await
        .expect("append");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no checkpoint at or after {} within {WAIT:?}",
            result.position
        );
        match next_message(&mut sub, "checkpoints").await {
            SubscriptionMessage::Event(e) => panic!("the filter matches nothing, got {e:?}"),
            SubscriptionMessage::Checkpoint(p) if p >= result.position => break,
            SubscriptionMessage::Checkpoint(_) | SubscriptionMessage::CaughtUp => {}
        }
    }
}
