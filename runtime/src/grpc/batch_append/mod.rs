//! `Streams.BatchAppend`: many appends on one bidirectional call, each
//! named by a correlation id and answered on its own.
//!
//! Flow: a task reads the call's requests. The first chunk of an append
//! carries its options ([`options`]: stream, expected revision, deadline);
//! its events may be spread over several chunks, collected in [`pending`];
//! the chunk with `is_final` sends it to the store through the same write
//! as `Append`. Writes of different appends run concurrently (so many
//! writers sharing one call, as the Node.js client does, share the store's
//! group commits) and each sends its own answer ([`answers`]) when done, in
//! whatever order they finish.
//!
//! Deadlines: an append must be received and written by its deadline (the
//! client's, capped by the server's write timeout), or it is answered with
//! a timeout: its events are dropped if they were still coming, and if the
//! write had started its outcome is unknown, as on KurrentDB.
//!
//! Bounds, for a peer that misbehaves: bytes per append
//! ([`Limits::max_append_bytes`], answered as maximum append size
//! exceeded), appends in progress per call (refused beyond
//! [`Limits::max_pending`]), and writes in flight and bytes buffered per
//! call ([`Limits::max_in_flight`], [`Limits::max_call_bytes`]): past
//! those the task stops reading until writes finish or deadlines pass, so
//! the client waits through flow control. Malformed chunks (no correlation
//! id, options after the first chunk, a chunk of an append never started)
//! are answered with a bad request and leave nothing behind.

mod answers;
#[cfg(test)]
mod bounds_tests;
mod options;
mod pending;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod write_tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use self::answers::{refused, written, Refusal};
use self::pending::{Answered, Pending, PendingAppend};
use super::acl::Principal;
use super::append;
use super::convert::uuid_from_proto;
use super::proto::streams::{BatchAppendReq, BatchAppendResp};
use crate::store::EventStore;

/// What one batch append call may hold at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest append (see `append::proposed_bytes`).
    pub max_append_bytes: usize,
    /// Bytes of events held by the call: appends in progress and writes in
    /// flight. The request read last may go past it.
    pub max_call_bytes: usize,
    /// Appends whose last chunk has not come yet.
    pub max_pending: usize,
    /// Writes running at once.
    pub max_in_flight: usize,
    /// The longest an append may take, and how long it gets when the
    /// client sets no deadline (KurrentDB's default write timeout).
    pub write_timeout: Duration,
}

impl Limits {
    pub fn new(max_append_bytes: usize) -> Self {
        Self {
            max_append_bytes,
            max_call_bytes: 64 * 1024 * 1024,
            max_pending: 128,
            max_in_flight: 32,
            write_timeout: Duration::from_secs(2),
        }
    }
}

/// Answers buffered before the task waits for the client to read them.
const ANSWER_BUFFER: usize = 64;
/// Ids of appends answered early whose late chunks are dropped quietly.
const ANSWERED_MEMORY: usize = 1024;

type Sender = mpsc::Sender<Result<BatchAppendResp, Status>>;
/// A write in flight; it yields the bytes it held.
type Write = Pin<Box<dyn Future<Output = usize> + Send>>;

/// Serves one call: reads `requests` in a task and returns the answers.
pub fn serve<S>(
    store: Arc<dyn EventStore>,
    principal: Principal,
    requests: S,
    limits: Limits,
    shutdown: CancellationToken,
) -> ReceiverStream<Result<BatchAppendResp, Status>>
where
    S: Stream<Item = Result<BatchAppendReq, Status>> + Send + Unpin + 'static,
{
    let (tx, rx) = mpsc::channel(ANSWER_BUFFER);
    let call = Call {
        store,
        principal,
        limits,
        tx,
        pending: Pending::new(limits.max_pending, limits.max_append_bytes),
        answered: Answered::new(ANSWERED_MEMORY),
        writes: FuturesUnordered::new(),
        bytes_in_flight: 0,
    };
    tokio::spawn(call.run(requests, shutdown));
    ReceiverStream::new(rx)
}

struct Call {
    store: Arc<dyn EventStore>,
    principal: Principal,
    limits: Limits,
    tx: Sender,
    pending: Pending,
    answered: Answered,
    writes: FuturesUnordered<Write>,
    bytes_in_flight: usize,
}

impl Call {
    async fn run<S>(mut self, mut requests: S, shutdown: CancellationToken)
    where
        S: Stream<Item = Result<BatchAppendReq, Status>> + Unpin,
    {
        let mut reading = true;
        loop {
            if !reading && self.pending.is_empty() && self.writes.is_empty() {
                return;
            }
            let may_read = reading
                && self.writes.len() < self.limits.max_in_flight
                && self.pending.bytes().saturating_add(self.bytes_in_flight)
                    < self.limits.max_call_bytes;
            let next_deadline = self.pending.next_deadline();
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    // Let the writes under way answer, then end the call.
                    while let Some(released) = self.writes.next().await {
                        self.bytes_in_flight = self.bytes_in_flight.saturating_sub(released);
                    }
                    let _ = self.tx.send(Err(Status::unavailable("the server is shutting down"))).await;
                    return;
                }
                () = self.tx.closed() => return,
                Some(released) = self.writes.next(), if !self.writes.is_empty() => {
                    self.bytes_in_flight = self.bytes_in_flight.saturating_sub(released);
                }
                () = sleep_until(next_deadline), if next_deadline.is_some() => {
                    self.expire().await;
                }
                request = requests.next(), if may_read => match request {
                    Some(Ok(request)) => self.handle(request).await,
                    Some(Err(status)) => {
                        tracing::debug!(error = %status, "a batch append call broke off");
                        reading = false;
                        self.pending.drain();
                    }
                    None => {
                        reading = false;
                        self.unfinished().await;
                    }
                },
            }
        }
    }

    /// One request: a chunk of an append.
    async fn handle(&mut self, request: BatchAppendReq) {
        let Some(correlation_id) = request.correlation_id else {
            let refusal =
                Refusal::BadRequest("a batch append request needs a correlation id".into());
            return self.send(refused(None, None, refusal)).await;
        };
        let id = match uuid_from_proto(Some(correlation_id.clone())) {
            Ok(id) => id,
            Err(status) => {
                let refusal = Refusal::BadRequest(format!(
                    "the correlation id is not a UUID: {}",
                    status.message()
                ));
                return self
                    .send(refused(Some(correlation_id), None, refusal))
                    .await;
            }
        };
        if let Some(options) = request.options {
            if let Some(started) = self.pending.take(&id) {
                self.answered.insert(id);
                let refusal = Refusal::BadRequest(format!(
                    "append {id} already started: only its first request may carry options"
                ));
                return self.refuse(started, refusal).await;
            }
            let now = SystemTime::now();
            let checked =
                match options::check(options, self.principal, self.limits.write_timeout, now) {
                    Ok(checked) => checked,
                    Err((stream, refusal)) => {
                        self.answered.insert(id);
                        let answer = refused(Some(correlation_id), stream.as_deref(), refusal);
                        return self.send(answer).await;
                    }
                };
            let append = PendingAppend {
                correlation_id: correlation_id.clone(),
                stream: checked.stream,
                expected: checked.expected,
                deadline: Instant::now() + checked.timeout,
                events: Vec::new(),
                bytes: 0,
            };
            if let Err((append, refusal)) = self.pending.start(id, append) {
                self.answered.insert(id);
                return self.refuse(append, refusal).await;
            }
        } else if !self.pending.contains(&id) {
            if self.answered.contains(&id) {
                return; // already answered; the rest of its chunks mean nothing
            }
            let refusal = Refusal::BadRequest(format!(
                "no append {id} in progress: the first request of an append carries its options"
            ));
            return self
                .send(refused(Some(correlation_id), None, refusal))
                .await;
        }
        if let Err((append, refusal)) = self.pending.add(&id, request.proposed_messages) {
            self.answered.insert(id);
            return self.refuse(append, refusal).await;
        }
        if request.is_final {
            if let Some(append) = self.pending.take(&id) {
                self.start_write(append);
            }
        }
    }

    /// Starts writing a complete append; the write answers for itself.
    fn start_write(&mut self, append: PendingAppend) {
        let PendingAppend {
            correlation_id,
            stream,
            expected,
            deadline,
            events,
            bytes,
        } = append;
        self.bytes_in_flight = self.bytes_in_flight.saturating_add(bytes);
        let store = Arc::clone(&self.store);
        let tx = self.tx.clone();
        self.writes.push(Box::pin(async move {
            let write = append::write(store.as_ref(), &stream, expected, events);
            tokio::pin!(write);
            let answer = tokio::select! {
                result = &mut write => written(Some(correlation_id), &stream, result),
                () = tokio::time::sleep_until(deadline) => {
                    let timeout = refused(Some(correlation_id), Some(&stream), Refusal::Timeout);
                    let _ = tx.send(Ok(timeout)).await;
                    // The store may still write it; the call keeps the
                    // write's place until it has.
                    let _ = write.await;
                    return bytes;
                }
            };
            let _ = tx.send(Ok(answer)).await;
            bytes
        }));
    }

    /// Answers the appends whose deadline passed before their last chunk.
    async fn expire(&mut self) {
        for (id, append) in self.pending.expire(Instant::now()) {
            self.answered.insert(id);
            self.refuse(append, Refusal::Timeout).await;
        }
    }

    /// The client sent its last request: appends still missing chunks will
    /// never be complete.
    async fn unfinished(&mut self) {
        for append in self.pending.drain() {
            let refusal = Refusal::BadRequest(
                "the call ended before the request marked final of this append".into(),
            );
            self.refuse(append, refusal).await;
        }
    }

    async fn refuse(&mut self, append: PendingAppend, refusal: Refusal) {
        let answer = refused(Some(append.correlation_id), Some(&append.stream), refusal);
        self.send(answer).await;
    }

    async fn send(&mut self, answer: BatchAppendResp) {
        let _ = self.tx.send(Ok(answer)).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
