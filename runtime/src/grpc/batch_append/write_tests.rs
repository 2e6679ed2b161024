//! Writes of a batch append call, over a real store whose appends wait at a
//! gate the test opens: appends of one call are written concurrently, no
//! more than the limit at once, and a write still running at its deadline
//! is answered with a timeout (its outcome is unknown, as on KurrentDB).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prost_types::Duration as ProtoDuration;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use super::super::acl::Principal;
use super::super::proto::streams::batch_append_req::options::{
    DeadlineOption, ExpectedStreamPosition,
};
use super::super::proto::streams::{BatchAppendReq, BatchAppendResp};
use super::test_support::{correlation, events, first, refused_with, succeeded, Call};
use super::{serve, Limits};
use crate::store::embedded::SqliteStore;
use crate::store::intercepted::{BeforeAppend, Intercepted};
use crate::store::{Direction, EventStore, NewEvent, StreamStart};

/// Appends wait until the gate is open; counts how many wait at once.
struct Gate {
    open: watch::Receiver<bool>,
    waiting: AtomicUsize,
    most_waiting: AtomicUsize,
}

#[async_trait]
impl BeforeAppend for Gate {
    async fn before_append(&self, _stream: &str, _events: &[NewEvent]) {
        let now = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_waiting.fetch_max(now, Ordering::SeqCst);
        let mut open = self.open.clone();
        let _ = open.wait_for(|open| *open).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A real store whose appends wait at the gate.
type Gated = Intercepted<Gate>;

struct Served {
    _dir: tempfile::TempDir,
    store: Arc<Gated>,
    gate: watch::Sender<bool>,
}

fn gated() -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let (gate, open) = watch::channel(false);
    let store = Arc::new(Intercepted {
        store: SqliteStore::open(&dir.path().join("events.db")).expect("store"),
        hook: Gate {
            open,
            waiting: AtomicUsize::new(0),
            most_waiting: AtomicUsize::new(0),
        },
    });
    Served {
        _dir: dir,
        store,
        gate,
    }
}

fn open(served: &Served, limits: Limits) -> Call<ReceiverStream<Result<BatchAppendResp, Status>>> {
    let (requests, rx) = mpsc::channel::<BatchAppendReq>(64);
    let store: Arc<dyn EventStore> = served.store.clone();
    let answers = serve(
        store,
        Principal::Admin,
        ReceiverStream::new(rx).map(Ok::<_, Status>),
        limits,
        CancellationToken::new(),
    );
    Call { requests, answers }
}

fn limits(max_in_flight: usize) -> Limits {
    Limits {
        max_append_bytes: 100_000,
        max_call_bytes: 1_000_000,
        max_pending: 16,
        max_in_flight,
        write_timeout: Duration::from_secs(60),
    }
}

/// Waits (up to a minute) until `count` appends wait at the gate.
async fn until_waiting(store: &Gated, count: usize) {
    for _ in 0..6_000 {
        if store.hook.waiting.load(Ordering::SeqCst) == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "expected {count} appends at the gate, found {}",
        store.hook.waiting.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn appends_of_one_call_are_written_concurrently_up_to_the_limit() {
    let served = gated();
    let mut call = open(&served, limits(3));
    for n in 0..5 {
        let id = correlation();
        let stream = format!("together-{n}");
        call.send(first(
            &id,
            &stream,
            ExpectedStreamPosition::NoStream(()),
            events(2),
            true,
        ))
        .await;
    }
    // Three writes wait in the store at once; the other two are not read
    // before one of them finishes.
    until_waiting(&served.store, 3).await;
    served.gate.send(true).expect("open the gate");
    for _ in 0..5 {
        assert_eq!(succeeded(&call.answer().await).0, Some(1));
    }
    assert_eq!(served.store.hook.most_waiting.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_write_still_running_at_its_deadline_is_answered_with_a_timeout() {
    let served = gated();
    let mut call = open(&served, limits(4));
    let id = correlation();
    let mut request = first(
        &id,
        "slow-write",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    );
    if let Some(options) = request.options.as_mut() {
        options.deadline_option = Some(DeadlineOption::Deadline(ProtoDuration {
            seconds: 0,
            nanos: 200_000_000,
        }));
    }
    call.send(request).await;
    until_waiting(&served.store, 1).await;
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&id));
    refused_with(&answer, "Timeout");

    // The store finishes the write once it can: a timeout does not mean
    // the events were not written. The call answers nothing more for it.
    served.gate.send(true).expect("open the gate");
    for _ in 0..6_000 {
        let written = served
            .store
            .read_stream("slow-write", Direction::Forwards, StreamStart::Start, 10)
            .await
            .map(|events| events.len())
            .unwrap_or(0);
        if written == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let next = correlation();
    call.send(first(
        &next,
        "slow-write",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    ))
    .await;
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&next));
    assert_eq!(succeeded(&answer).0, Some(1), "after the timed-out write");
}
