//! `BatchAppend` under small limits, served in-process over a real store:
//! deadlines, the size of an append, appends in progress and bytes held
//! per call, and malformed requests.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use prost_types::Duration as ProtoDuration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status};

use super::super::acl::Principal;
use super::super::proto::event_store::client as shared;
use super::super::proto::streams::batch_append_req::options::{
    DeadlineOption, ExpectedStreamPosition,
};
use super::super::proto::streams::{BatchAppendReq, BatchAppendResp};
use super::test_support::{
    bad_request_message, chunk, correlation, event, events, first, refused_with, succeeded, Call,
};
use super::{serve, Limits};
use crate::store::embedded::SqliteStore;
use crate::store::{Direction, EventStore, StreamStart};

type Answers = ReceiverStream<Result<BatchAppendResp, Status>>;

struct Served {
    _dir: tempfile::TempDir,
    store: Arc<dyn EventStore>,
    shutdown: CancellationToken,
}

fn small_limits() -> Limits {
    Limits {
        max_append_bytes: 2_000,
        max_call_bytes: 100_000,
        max_pending: 3,
        max_in_flight: 8,
        write_timeout: Duration::from_secs(30),
    }
}

fn store() -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::open(&dir.path().join("events.db")).expect("store"));
    Served {
        _dir: dir,
        store,
        shutdown: CancellationToken::new(),
    }
}

fn open(served: &Served, limits: Limits) -> Call<Answers> {
    let (requests, rx) = mpsc::channel::<BatchAppendReq>(64);
    let answers = serve(
        Arc::clone(&served.store),
        Principal::Admin,
        ReceiverStream::new(rx).map(Ok::<_, Status>),
        limits,
        served.shutdown.clone(),
    );
    Call { requests, answers }
}

async fn stored(served: &Served, stream: &str) -> usize {
    served
        .store
        .read_stream(stream, Direction::Forwards, StreamStart::Start, 1000)
        .await
        .map(|events| events.len())
        .unwrap_or(0)
}

fn with_deadline(mut request: BatchAppendReq, deadline: DeadlineOption) -> BatchAppendReq {
    if let Some(options) = request.options.as_mut() {
        options.deadline_option = Some(deadline);
    }
    request
}

#[tokio::test]
async fn an_append_not_complete_by_its_deadline_times_out_and_its_late_chunks_are_dropped() {
    let served = store();
    let mut call = open(&served, small_limits());
    let id = correlation();
    let deadline = DeadlineOption::Deadline(ProtoDuration {
        seconds: 0,
        nanos: 200_000_000,
    });
    call.send(with_deadline(
        first(
            &id,
            "late-1",
            ExpectedStreamPosition::Any(()),
            events(1),
            false,
        ),
        deadline,
    ))
    .await;
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&id));
    let error = refused_with(&answer, "Timeout");
    assert_eq!(error.code, Code::DeadlineExceeded as i32);

    // The rest of it comes too late: dropped without an answer, nothing
    // written; the next append is answered as usual.
    call.send(chunk(&id, events(1), true)).await;
    let next = correlation();
    call.send(first(
        &next,
        "late-2",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    ))
    .await;
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&next));
    succeeded(&answer);
    assert_eq!(stored(&served, "late-1").await, 0);
}

#[tokio::test]
async fn a_deadline_already_past_is_a_timeout_at_once() {
    let served = store();
    let mut call = open(&served, small_limits());
    let id = correlation();
    let past = DeadlineOption::Deadline21100(prost_types::Timestamp {
        seconds: 1_000_000,
        nanos: 0,
    });
    call.send(with_deadline(
        first(
            &id,
            "past-1",
            ExpectedStreamPosition::Any(()),
            events(1),
            true,
        ),
        past,
    ))
    .await;
    refused_with(&call.answer().await, "Timeout");
    assert_eq!(stored(&served, "past-1").await, 0);
}

#[tokio::test]
async fn without_a_deadline_the_servers_write_timeout_applies() {
    let served = store();
    let limits = Limits {
        write_timeout: Duration::from_millis(200),
        ..small_limits()
    };
    let mut call = open(&served, limits);
    let id = correlation();
    call.send(first(
        &id,
        "slow-1",
        ExpectedStreamPosition::Any(()),
        events(1),
        false,
    ))
    .await;
    refused_with(&call.answer().await, "Timeout");
}

#[tokio::test]
async fn an_append_over_the_size_limit_is_refused_with_the_limit() {
    let served = store();
    let mut call = open(&served, small_limits());
    let id = correlation();
    let big = "x".repeat(800);
    call.send(first(
        &id,
        "big-1",
        ExpectedStreamPosition::Any(()),
        vec![event("Big", &big), event("Big", &big)],
        false,
    ))
    .await;
    call.send(chunk(&id, vec![event("Big", &big)], false)).await;
    let answer = call.answer().await;
    let error = refused_with(&answer, "MaximumAppendSizeExceeded");
    assert_eq!(error.code, Code::InvalidArgument as i32);
    let any = error.details.as_ref().expect("detail");
    let detail = shared::MaximumAppendSizeExceeded::decode(any.value.as_slice()).expect("decode");
    assert_eq!(detail.max_append_size, 2_000);
    call.send(chunk(&id, events(1), true)).await;
    // Only the next append is answered.
    let next = correlation();
    call.send(first(
        &next,
        "big-1",
        ExpectedStreamPosition::NoStream(()),
        events(1),
        true,
    ))
    .await;
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&next));
    assert_eq!(succeeded(&answer).0, Some(0));
}

#[tokio::test]
async fn appends_in_progress_per_call_are_bounded() {
    let served = store();
    let mut call = open(&served, small_limits());
    let ids: Vec<_> = (0..4).map(|_| correlation()).collect();
    for id in &ids {
        call.send(first(
            id,
            "many-1",
            ExpectedStreamPosition::Any(()),
            events(1),
            false,
        ))
        .await;
    }
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&ids[3]));
    assert!(bad_request_message(&answer).contains("at most 3"));
    // The three others complete.
    for id in &ids[..3] {
        call.send(chunk(id, Vec::new(), true)).await;
    }
    for _ in 0..3 {
        succeeded(&call.answer().await);
    }
    assert_eq!(stored(&served, "many-1").await, 3);
}

#[tokio::test]
async fn a_call_holding_its_byte_budget_reads_on_only_once_it_is_freed() {
    let served = store();
    let limits = Limits {
        max_call_bytes: 1_000,
        ..small_limits()
    };
    let mut call = open(&served, limits);
    let holding = correlation();
    let deadline = DeadlineOption::Deadline(ProtoDuration {
        seconds: 0,
        nanos: 300_000_000,
    });
    call.send(with_deadline(
        first(
            &holding,
            "budget-1",
            ExpectedStreamPosition::Any(()),
            vec![event("Big", &"x".repeat(1_200))],
            false,
        ),
        deadline,
    ))
    .await;
    let next = correlation();
    call.send(first(
        &next,
        "budget-2",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    ))
    .await;
    // The second append is read only once the first one's bytes are
    // released, at its deadline: the timeout is answered first.
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&holding));
    refused_with(&answer, "Timeout");
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&next));
    succeeded(&answer);
}

#[tokio::test]
async fn malformed_requests_get_a_bad_request_and_leave_nothing_behind() {
    let served = store();
    let mut call = open(&served, small_limits());

    let mut anonymous = first(
        &correlation(),
        "bad-1",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    );
    anonymous.correlation_id = None;
    call.send(anonymous).await;
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id, None);
    assert!(bad_request_message(&answer).contains("correlation id"));

    let unknown = correlation();
    call.send(chunk(&unknown, events(1), true)).await;
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&unknown));
    assert!(bad_request_message(&answer).contains("first request of an append carries its options"));

    let twice = correlation();
    call.send(first(
        &twice,
        "bad-1",
        ExpectedStreamPosition::Any(()),
        events(1),
        false,
    ))
    .await;
    call.send(first(
        &twice,
        "bad-1",
        ExpectedStreamPosition::Any(()),
        events(1),
        false,
    ))
    .await;
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&twice));
    assert!(bad_request_message(&answer).contains("only its first request may carry options"));
    // The refused append's last chunk is dropped quietly.
    call.send(chunk(&twice, events(1), true)).await;

    let mut no_expected = first(
        &correlation(),
        "bad-1",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    );
    if let Some(options) = no_expected.options.as_mut() {
        options.expected_stream_position = None;
    }
    call.send(no_expected).await;
    assert!(bad_request_message(&call.answer().await).contains("expected stream position"));

    // An append still missing its last chunk when the client stops sending
    // is answered, then the call ends.
    let open_append = correlation();
    call.send(first(
        &open_append,
        "bad-1",
        ExpectedStreamPosition::Any(()),
        events(1),
        false,
    ))
    .await;
    call.close();
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&open_append));
    assert!(bad_request_message(&answer).contains("call ended"));
    assert!(call.next().await.is_none(), "the call ends");
    assert_eq!(stored(&served, "bad-1").await, 0);
}

#[tokio::test]
async fn a_shutdown_ends_the_call_as_unavailable() {
    let served = store();
    let mut call = open(&served, small_limits());
    let id = correlation();
    call.send(first(
        &id,
        "stop-1",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    ))
    .await;
    succeeded(&call.answer().await);
    served.shutdown.cancel();
    match call.next().await {
        Some(Err(status)) => assert_eq!(status.code(), Code::Unavailable),
        other => panic!("expected unavailable, got {other:?}"),
    }
}
