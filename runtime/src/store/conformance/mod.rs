//! The backend-independent conformance suite for [`EventStore`]s.
//!
//! Every check is a public async function taking `&dyn EventStore` and
//! panicking (with a message) when the backend misbehaves, so a backend's test
//! file can run each as its own test, or call [`run_all`]. Checks write only to
//! streams with unique names and use unique event types, and subscription
//! checks start from the head position taken right before their own appends,
//! so they can run concurrently against one store that holds other data (such
//! as a shared KurrentDB server). Every wait is bounded by [`WAIT`].

mod metadata;
mod multi;
mod read;
mod subscribe;
mod write;

use std::time::Duration;

use uuid::Uuid;

use crate::store::{
    ContentType, CurrentRevision, Direction, EventStore, NewEvent, RecordedEvent, StoreError,
    StreamStart, SubscribeFrom, Subscription, SubscriptionMessage,
};

pub use metadata::{
    delete_missing_stream, max_count_keeps_last_events, soft_delete_then_recreate,
    soft_deleted_stream_takes_its_last_revision, stream_metadata_round_trip, tombstone_is_final,
};
pub use multi::{
    multi_append_across_streams, multi_append_check_only_streams, multi_append_expected_states,
    multi_append_refuses_bad_requests, multi_append_retry_is_idempotent,
    multi_append_to_deleted_streams, multi_append_wrong_expectation_writes_nothing,
};
pub use read::{
    missing_stream_is_not_found, pages_stop_at_their_byte_budget, read_all_ranges,
    read_stream_ranges,
};
pub use subscribe::{
    checkpoints_advance_without_matches, filter_event_type_prefix, filter_event_type_regex,
    filter_look_around_regex, filter_stream_prefix, filter_stream_regex,
    subscribe_after_position_is_exclusive, subscribe_from_end_sees_only_new_events,
    subscription_catches_up_then_goes_live, system_events_excluded_unless_asked,
};
pub use write::{
    append_and_read_back, empty_append_only_checks, expected_revision_checks,
    failed_append_writes_nothing, head_position_grows, invalid_requests_are_rejected,
    retried_append_is_idempotent,
};

/// What a backend's test file provides to [`conformance_tests!`]: a fresh
/// store for one check, and how to stop it afterwards.
#[async_trait::async_trait]
pub trait Fixture: Sized + Send {
    /// Starts a store with nothing in it (or nothing the checks could see).
    async fn start() -> Self;
    fn store(&self) -> &dyn EventStore;
    /// Stops what `start` started; by default, dropping is enough.
    async fn stop(self) {}
}

/// Declares one `#[tokio::test]` per check of the suite, each on a fresh
/// [`Fixture`] of the given type, so every backend runs every check and a
/// new check cannot be forgotten by one of them.
#[macro_export]
macro_rules! conformance_tests {
    ($fixture:ty) => {
        $crate::conformance_tests!(@each $fixture;
            append_and_read_back,
            expected_revision_checks,
            failed_append_writes_nothing,
            empty_append_only_checks,
            invalid_requests_are_rejected,
            retried_append_is_idempotent,
            head_position_grows,
            multi_append_across_streams,
            multi_append_expected_states,
            multi_append_wrong_expectation_writes_nothing,
            multi_append_check_only_streams,
            multi_append_to_deleted_streams,
            multi_append_refuses_bad_requests,
            multi_append_retry_is_idempotent,
            read_stream_ranges,
            missing_stream_is_not_found,
            read_all_ranges,
            pages_stop_at_their_byte_budget,
            subscribe_after_position_is_exclusive,
            subscribe_from_end_sees_only_new_events,
            subscription_catches_up_then_goes_live,
            filter_stream_prefix,
            filter_stream_regex,
            filter_event_type_prefix,
            filter_event_type_regex,
            filter_look_around_regex,
            system_events_excluded_unless_asked,
            checkpoints_advance_without_matches,
            stream_metadata_round_trip,
            max_count_keeps_last_events,
            soft_delete_then_recreate,
            soft_deleted_stream_takes_its_last_revision,
            delete_missing_stream,
            tombstone_is_final,
        );
    };
    (@each $fixture:ty; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let fixture = <$fixture as $crate::store::conformance::Fixture>::start().await;
                $crate::store::conformance::$check(
                    $crate::store::conformance::Fixture::store(&fixture),
                )
                .await;
                $crate::store::conformance::Fixture::stop(fixture).await;
            }
        )*
    };
}

/// The longest any check waits for a subscription message.
pub const WAIT: Duration = Duration::from_secs(10);

/// Runs every check, one after the other (the same list as
/// [`conformance_tests!`]).
pub async fn run_all(store: &dyn EventStore) {
    append_and_read_back(store).await;
    expected_revision_checks(store).await;
    failed_append_writes_nothing(store).await;
    empty_append_only_checks(store).await;
    invalid_requests_are_rejected(store).await;
    retried_append_is_idempotent(store).await;
    head_position_grows(store).await;
    multi_append_across_streams(store).await;
    multi_append_expected_states(store).await;
    multi_append_wrong_expectation_writes_nothing(store).await;
    multi_append_check_only_streams(store).await;
    multi_append_to_deleted_streams(store).await;
    multi_append_refuses_bad_requests(store).await;
    multi_append_retry_is_idempotent(store).await;
    read_stream_ranges(store).await;
    missing_stream_is_not_found(store).await;
    read_all_ranges(store).await;
    pages_stop_at_their_byte_budget(store).await;
    subscribe_after_position_is_exclusive(store).await;
    subscribe_from_end_sees_only_new_events(store).await;
    subscription_catches_up_then_goes_live(store).await;
    filter_stream_prefix(store).await;
    filter_stream_regex(store).await;
    filter_event_type_prefix(store).await;
    filter_event_type_regex(store).await;
    filter_look_around_regex(store).await;
    system_events_excluded_unless_asked(store).await;
    checkpoints_advance_without_matches(store).await;
    stream_metadata_round_trip(store).await;
    max_count_keeps_last_events(store).await;
    soft_delete_then_recreate(store).await;
    soft_deleted_stream_takes_its_last_revision(store).await;
    delete_missing_stream(store).await;
    tombstone_is_final(store).await;
}

/// Runs the whole suite `runs` times at once against one store: the checks
/// must not disturb each other, as on a shared server.
pub async fn run_all_concurrently<S: EventStore + Clone>(store: &S, runs: usize) {
    let tasks: Vec<_> = (0..runs)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { run_all(&store).await })
        })
        .collect();
    for task in tasks {
        if let Err(e) = task.await {
            panic!("a run of the suite failed: {e}");
        }
    }
}

/// A fresh token to build unique stream names and event types from (hex
/// only, so it is safe inside regular expressions).
fn token() -> String {
    Uuid::new_v4().simple().to_string()
}

/// A unique stream name.
fn unique_stream(label: &str) -> String {
    format!("conformance-{label}-{}", token())
}

/// `n` JSON events of `event_type` with data `{"n": i}`.
fn json_events(event_type: &str, n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| NewEvent::json(event_type, &serde_json::json!({ "n": i })))
        .collect()
}

/// A binary event with the given payload.
fn binary_event(event_type: &str, data: &[u8]) -> NewEvent {
    NewEvent {
        id: Uuid::new_v4(),
        event_type: event_type.to_owned(),
        content_type: ContentType::Binary,
        data: data.to_vec().into(),
        metadata: Default::default(),
    }
}

/// Reads the whole stream forwards.
async fn read_whole(store: &dyn EventStore, stream: &str) -> Vec<RecordedEvent> {
    match store
        .read_stream(stream, Direction::Forwards, StreamStart::Start, 100_000)
        .await
    {
        Ok(events) => events,
        Err(e) => panic!("reading stream `{stream}` failed: {e}"),
    }
}

fn revisions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.revision).collect()
}

fn ids(events: &[RecordedEvent]) -> Vec<Uuid> {
    events.iter().map(|e| e.id).collect()
}

/// The current head, for subscriptions that should see only what follows.
async fn head(store: &dyn EventStore) -> SubscribeFrom {
    match store.head_position().await {
        Ok(Some(position)) => SubscribeFrom::After(position),
        Ok(None) => SubscribeFrom::Start,
        Err(e) => panic!("head_position failed: {e}"),
    }
}

/// Asserts that `result` is a wrong-expected-revision error reporting `current`.
fn assert_wrong_revision<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    current: CurrentRevision,
    what: &str,
) {
    match result {
        Err(StoreError::WrongExpectedRevision { current: got, .. }) => {
            assert_eq!(
                got, current,
                "{what}: the error should report the current revision"
            )
        }
        other => panic!("{what}: expected WrongExpectedRevision({current}), got {other:?}"),
    }
}

/// The next message, failing on errors, on the end of the subscription, and
/// after [`WAIT`].
async fn next_message(subscription: &mut Subscription, what: &str) -> SubscriptionMessage {
    match tokio::time::timeout(WAIT, subscription.next()).await {
        Ok(Some(Ok(message))) => message,
        Ok(Some(Err(e))) => panic!("{what}: the subscription failed: {e}"),
        Ok(None) => panic!("{what}: the subscription ended"),
        Err(_) => panic!("{what}: no subscription message within {WAIT:?}"),
    }
}

/// Collects delivered events until the one with id `last` (included),
/// checking that positions strictly increase.
async fn events_until(
    subscription: &mut Subscription,
    last: Uuid,
    what: &str,
) -> Vec<RecordedEvent> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    loop {
        if let SubscriptionMessage::Event(event) = next_message(subscription, what).await {
            if let Some(previous) = events.last() {
                assert!(
                    event.position > previous.position,
                    "{what}: positions must increase ({} after {})",
                    event.position,
                    previous.position
                );
            }
            let done = event.id == last;
            events.push(event);
            if done {
                return events;
            }
        }
    }
}
