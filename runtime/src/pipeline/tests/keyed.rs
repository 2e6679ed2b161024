//! Ordered by key (`{"by": "stream"}`): several lanes, each stream's events
//! in order, and a checkpoint that never passes an event not yet handled.

use std::collections::{BTreeMap, HashSet};

use super::*;

const BY_STREAM: &str = r#"{"by": "stream", "concurrency": 4}"#;

fn keyed(mut settings: serde_json::Value) -> serde_json::Value {
    settings["ordering"] = serde_json::from_str(BY_STREAM).expect("ordering");
    settings
}

/// Every stream's delivered revisions are in order, each at most once.
fn assert_each_stream_in_order(delivered: &[RecordedEvent]) {
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for event in delivered {
        if let Some(previous) = last.insert(&event.stream, event.revision) {
            assert!(
                event.revision > previous,
                "{} delivered revision {} after {previous}",
                event.stream,
                event.revision
            );
        }
    }
}

/// The checkpoint is below every event that is not delivered (or, given,
/// dead-lettered): everything up to it was handled.
fn assert_checkpoint_below_unhandled(
    checkpoint: Option<Position>,
    written: &[RecordedEvent],
    handled: &[RecordedEvent],
) {
    let handled: HashSet<_> = handled.iter().map(|e| e.id).collect();
    let first_unhandled = written.iter().find(|e| !handled.contains(&e.id));
    if let (Some(checkpoint), Some(unhandled)) = (checkpoint, first_unhandled) {
        assert!(
            checkpoint < unhandled.position,
            "checkpoint {checkpoint} passes unhandled event at {}",
            unhandled.position
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_key_holds_back_only_its_lane_and_never_the_checkpoint_past_it() {
    let fixture = Fixture::new(keyed(json!({}))).await;
    let written = fixture.append_streams(8, 5).await;
    let (handle, probe) = fixture
        .spawn(Tenure::unconditional(), vec![Step::Stall], vec![])
        .await;
    probe.wait_until_stalled().await;
    // Other keys go on while one lane is stalled.
    probe.wait_for(4).await;
    assert!(probe.is_stalled(), "the first call is still stalled");
    assert_checkpoint_below_unhandled(fixture.checkpoint().await, &written, &probe.delivered());
    probe.release();
    probe.wait_for(written.len()).await;
    let delivered = probe.delivered();
    assert_each_stream_in_order(&delivered);
    let ids: HashSet<_> = delivered.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), written.len(), "each event once");
    assert!(handle.stop(WAIT_BOUND).await, "stopped in time");
    let last = written.last().expect("events").position;
    assert!(between(fixture.checkpoint().await, last, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_events_of_any_key_are_dead_lettered_and_the_rest_delivered_in_order() {
    let fixture = Fixture::new(keyed(json!({}))).await;
    let written = fixture.append_streams(8, 5).await;
    let (handle, probe) = fixture
        .spawn(Tenure::unconditional(), vec![], vec![2])
        .await;
    probe.wait_for(written.len() - 8).await;
    assert!(handle.stop(WAIT_BOUND).await, "stopped in time");
    let delivered = probe.delivered();
    assert_each_stream_in_order(&delivered);
    assert!(delivered.iter().all(|e| e.revision != 2));
    assert_eq!(fixture.dead_letters().await.len(), 8, "one per stream");
    let last = written.last().expect("events").position;
    assert!(between(fixture.checkpoint().await, last, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_on_failure_fault_the_checkpoint_stays_below_the_refused_event() {
    let fixture = Fixture::new(keyed(json!({ "onFailure": "fault" }))).await;
    let written = fixture.append_streams(8, 5).await;
    let (handle, probe) = fixture
        .spawn(Tenure::unconditional(), vec![], vec![3])
        .await;
    wait_until_finished(&handle).await;
    let status = handle.status().snapshot();
    assert_eq!(status.state, RunState::Faulted);
    let delivered = probe.delivered();
    assert_each_stream_in_order(&delivered);
    // Every stream's revision 3 is refused: nothing after it was sent.
    assert!(delivered.iter().all(|e| e.revision < 3));
    assert_checkpoint_below_unhandled(fixture.checkpoint().await, &written, &delivered);
    assert!(fixture.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batching_sink_gets_each_keys_events_in_order() {
    let fixture = Fixture::new(keyed(json!({}))).await;
    let written = fixture.append_streams(8, 25).await;
    let (handle, probe) = fixture
        .spawn_batches_of(10, Tenure::unconditional(), vec![], vec![])
        .await;
    probe.wait_for(written.len()).await;
    assert!(handle.stop(WAIT_BOUND).await, "stopped in time");
    assert_each_stream_in_order(&probe.delivered());
    let last = written.last().expect("events").position;
    assert!(between(fixture.checkpoint().await, last, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_lease_lapses_no_lane_sends_more_and_nothing_is_checkpointed() {
    let fixture = Fixture::new(keyed(json!({}))).await;
    let written = fixture.append_streams(8, 5).await;
    let (tenure, lease) = revocable_tenure();
    let (handle, probe) = fixture.spawn(tenure, vec![Step::Stall], vec![]).await;
    probe.wait_until_stalled().await;
    probe.wait_for(4).await;
    // The lease lapses while one lane is stalled: the pipeline stops, and
    // no lane sends anything after the stalled request it had begun.
    *lease.lock().expect("lease") = None;
    wait_until_finished(&handle).await;
    let sent_by_then = probe.delivered().len();
    probe.release();
    tokio::task::yield_now().await;
    assert!(
        probe.delivered().len() <= sent_by_then + 1,
        "at most the stalled request"
    );
    let status = handle.status().snapshot();
    assert_eq!(status.state, RunState::Stopping);
    assert!(status
        .last_error
        .expect("an error")
        .message
        .contains("lease"));
    // The stalled event is not delivered: no checkpoint passes it.
    assert_checkpoint_below_unhandled(fixture.checkpoint().await, &written, &probe.delivered());
}
