//! Strict ordering: one lane, everything in log order.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_sink_in_log_order_and_a_stop_checkpoints_them() {
    let fixture = Fixture::new(json!({})).await;
    let positions = fixture.append(12).await;
    let (handle, probe) = fixture
        .spawn(
            Tenure::unconditional(),
            vec![Step::FailRetryably { times: 2 }],
            vec![],
        )
        .await;
    probe.wait_for(12).await;
    let delivered = probe.delivered();
    assert_eq!(revisions(&delivered), (0..12).collect::<Vec<_>>());
    let delivered_positions: Vec<Position> = delivered.iter().map(|e| e.position).collect();
    assert_eq!(delivered_positions, positions);
    let status = Arc::clone(handle.status());
    assert!(handle.stop(WAIT_BOUND).await, "stopped in time");
    let status = status.snapshot();
    assert_eq!(status.totals.delivered, 12);
    // The first batch's retries show in the status.
    let error = status.last_error.expect("the retries").message;
    assert!(
        error.contains("the mock destination is unavailable (retry 2"),
        "{error}"
    );
    assert!(between(fixture.checkpoint().await, positions[11], None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_event_is_dead_lettered_and_the_checkpoint_passes_it() {
    let fixture = Fixture::new(json!({})).await;
    let positions = fixture.append(5).await;
    let (handle, probe) = fixture
        .spawn(Tenure::unconditional(), vec![], vec![2])
        .await;
    probe.wait_for(4).await;
    assert_eq!(revisions(&probe.delivered()), vec![0, 1, 3, 4]);
    assert!(handle.stop(WAIT_BOUND).await, "stopped in time");
    let letters = fixture.dead_letters().await;
    assert_eq!(letters.len(), 1);
    let letter: serde_json::Value = serde_json::from_slice(&letters[0].data).expect("json");
    assert!(
        letter.to_string().contains("the mock refuses revision 2"),
        "{letter}"
    );
    assert!(between(fixture.checkpoint().await, positions[4], None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_on_failure_fault_the_connector_faults_at_the_refused_event() {
    let fixture = Fixture::new(json!({ "onFailure": "fault" })).await;
    let positions = fixture.append(5).await;
    let (handle, probe) = fixture
        .spawn(Tenure::unconditional(), vec![], vec![2])
        .await;
    wait_until_finished(&handle).await;
    assert_eq!(revisions(&probe.delivered()), vec![0, 1]);
    let status = handle.status().snapshot();
    assert_eq!(status.state, RunState::Faulted);
    let error = status.last_error.expect("an error").message;
    assert!(error.contains("the sink refused event"), "{error}");
    assert!(fixture.dead_letters().await.is_empty());
    assert!(between(
        fixture.checkpoint().await,
        positions[1],
        Some(positions[2])
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_stalled_delivery_checkpoints_what_was_delivered() {
    let fixture = Fixture::new(json!({})).await;
    let positions = fixture.append(5).await;
    let (handle, probe) = fixture
        .spawn(
            Tenure::unconditional(),
            vec![Step::Accept, Step::Accept, Step::Stall],
            vec![],
        )
        .await;
    probe.wait_until_stalled().await;
    assert!(handle.stop(WAIT_BOUND).await, "stopped in time");
    assert_eq!(revisions(&probe.delivered()), vec![0, 1]);
    assert!(between(
        fixture.checkpoint().await,
        positions[1],
        Some(positions[2])
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_whose_tenure_ended_writes_no_checkpoint_after_it() {
    let fixture = Fixture::new(json!({})).await;
    let positions = fixture.append(5).await;
    let (tenure, lease) = revocable_tenure();
    let (handle, probe) = fixture
        .spawn(
            tenure,
            vec![Step::Accept, Step::Accept, Step::Stall],
            vec![],
        )
        .await;
    probe.wait_until_stalled().await;
    // The first two are acknowledged and checkpointed while the third is
    // with the sink.
    tokio::time::timeout(WAIT_BOUND, async {
        while fixture.checkpoint().await < Some(positions[1]) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the first two were checkpointed in time");
    // The lease lapses while the third event is with the sink, which then
    // answers: whether or not the pipeline saw the lapse before the answer
    // (then it abandoned the request), no checkpoint may name it any more,
    // and nothing after it is sent.
    *lease.lock().expect("lease") = None;
    probe.release();
    wait_until_finished(&handle).await;
    let delivered = revisions(&probe.delivered());
    assert!(
        delivered == [0, 1] || delivered == [0, 1, 2],
        "{delivered:?}"
    );
    let status = handle.status().snapshot();
    assert_eq!(status.state, RunState::Stopping);
    let error = status.last_error.expect("an error").message;
    assert!(error.contains("lease"), "{error}");
    assert!(between(
        fixture.checkpoint().await,
        positions[1],
        Some(positions[2])
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fanned_out_position_is_handled_only_once_all_its_records_are() {
    let fixture = Fixture::new(json!({ "onFailure": "fault" })).await;
    fixture.append(3).await;
    let events = fixture
        .store
        .read_stream("orders", Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("read");
    // Input 1 fanned out into two records at its position (revisions 1
    // and 7); the sink refuses the second.
    let mut sibling = events[1].clone();
    sibling.revision = 7;
    let outgoing = vec![
        events[0].clone(),
        events[1].clone(),
        sibling,
        events[2].clone(),
    ];
    let status = Arc::new(PipelineStatus::new(RunState::Running));
    let ctx = RunContext {
        repository: fixture.repository.clone(),
        connector: fixture.connector.clone(),
        tenure: Tenure::unconditional(),
        status,
        cancel: tokio_util::sync::CancellationToken::new(),
        metrics: crate::metrics::ConnectorMetrics::detached("c"),
    };
    let mut sink_ctx = SinkContext::detached("c");
    sink_ctx.stop_at_first_rejection = true;
    let (destination, probe) = MockDestination::new(10, [], [7]);
    let mut sink = destination.sink(sink_ctx);
    let delivery = deliver(&ctx, &mut sink, &outgoing).await;
    assert_eq!(revisions(&probe.delivered()), vec![0, 1]);
    match delivery {
        Delivery::Fault {
            handled_up_to,
            fault: Fault::EventRefused(message),
        } => {
            assert_eq!(handled_up_to, Some(events[0].position));
            assert!(message.contains("revision 7"), "{message}");
        }
        other => panic!("expected a fault at the refused record, got {other:?}"),
    }
}
