//! The single writer: a dedicated thread owning the only write connection.
//!
//! Callers queue [`Op`]s with a reply channel and await the reply, so async
//! code never blocks on SQLite. The thread takes every operation waiting in
//! the queue (up to a limit) and runs them in one transaction, each in its own
//! savepoint so that one failing operation (a wrong expected revision) does not
//! affect the others: this group commit pays one fsync for many concurrent
//! appends. Replies are sent only after the commit, and the new head is
//! published (for subscriptions) before the replies, so an acknowledged append
//! is durable and visible to every later read and subscription. With the head
//! goes a summary of the names the group appended ([`Committed`]), so idle
//! subscriptions can skip appends their filter cannot match. Before the
//! head, the group's events go to the [`Tail`], where subscriptions near the
//! head read them without a query.

use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{oneshot, watch};

use super::append::{Op, Outcome};
use super::committed::{Committed, GroupNames};
use super::schema::{open_writer, sql_err, store_head};
use super::tail::{GroupChanges, Tail};
use crate::store::StoreError;

/// Most operations in one transaction.
const MAX_GROUP_OPS: usize = 512;
/// Most events in one transaction (a single larger append still goes alone).
const MAX_GROUP_EVENTS: usize = 20_000;

type Reply = oneshot::Sender<Result<Outcome, StoreError>>;

/// The queue to the writer thread. Dropping the last clone stops the thread
/// once it has finished the operations already queued.
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<(Op, Reply)>,
}

impl Writer {
    /// Opens the database and starts the writer thread. Returns the writer,
    /// a receiver of the highest committed position (with what the commit
    /// that reached it appended) and the tail of recent events it keeps.
    pub fn start(
        path: &Path,
    ) -> Result<(Writer, watch::Receiver<Committed>, Arc<Tail>), StoreError> {
        let (conn, head) = open_writer(path)?;
        let (queue, ops) = mpsc::channel();
        let (head_tx, head_rx) = watch::channel(Committed::opened_at(head));
        let tail = Arc::new(Tail::new(head));
        let published = Published {
            head: head_tx,
            tail: Arc::clone(&tail),
        };
        thread::Builder::new()
            .name("event-store-writer".into())
            .spawn(move || run(conn, ops, published, head))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        Ok((Writer { queue }, head_rx, tail))
    }

    /// Queues `op` and waits until it is committed (or failed).
    pub async fn execute(&self, op: Op) -> Result<Outcome, StoreError> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send((op, reply))
            .map_err(|_| StoreError::Unavailable("the store's writer has stopped".into()))?;
        outcome
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer has stopped".into()))?
    }
}

/// What the writer publishes after each commit.
struct Published {
    head: watch::Sender<Committed>,
    tail: Arc<Tail>,
}

fn run(
    mut conn: Connection,
    ops: mpsc::Receiver<(Op, Reply)>,
    published: Published,
    mut head: u64,
) {
    while let Ok(first) = ops.recv() {
        let mut weight = first.0.weight();
        let mut group = vec![first];
        while group.len() < MAX_GROUP_OPS && weight < MAX_GROUP_EVENTS {
            match ops.try_recv() {
                Ok(next) => {
                    weight += next.0.weight();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        let (ops_in_group, replies): (Vec<Op>, Vec<Reply>) = group.into_iter().unzip();
        let before = head;
        let mut changes = GroupChanges::default();
        let results = match commit_group(&mut conn, &mut head, &mut changes, &ops_in_group) {
            Ok(results) => results,
            Err(error) => {
                head = before;
                changes = GroupChanges::default();
                tracing::error!(%error, "event store commit failed");
                let error = sql_err(error);
                ops_in_group
                    .iter()
                    .map(|_| Err(StoreError::Unavailable(error.to_string())))
                    .collect()
            }
        };
        if !changes.appended.is_empty() || !changes.deleted.is_empty() {
            published.tail.apply(changes);
        }
        if head != before {
            let names = appended_names(&ops_in_group, &results);
            published
                .head
                .send_replace(Committed::after_group(before, head, names));
        }
        for (reply, result) in replies.into_iter().zip(results) {
            // The caller may have given up waiting; the write stands anyway.
            let _ = reply.send(result);
        }
    }
    tracing::debug!("event store writer stopped");
}

/// The names of the events that the successful operations of a committed
/// group appended.
fn appended_names(ops: &[Op], results: &[Result<Outcome, StoreError>]) -> GroupNames {
    let mut names = GroupNames::default();
    for (op, result) in ops.iter().zip(results) {
        if result.is_err() {
            continue;
        }
        match op {
            Op::Append { stream, events, .. } => {
                for event in events {
                    names.add(stream, &event.event_type);
                }
            }
            Op::AppendStreams(appends) => {
                for append in appends {
                    for event in &append.events {
                        names.add(&append.stream, &event.event_type);
                    }
                }
            }
            Op::Delete { .. } | Op::Tombstone { .. } | Op::SetMetadata { .. } => {}
        }
    }
    names
}

/// Runs `ops` in one transaction, one savepoint each. An `Err` means the
/// transaction as a whole failed and nothing was written.
fn commit_group(
    conn: &mut Connection,
    head: &mut u64,
    changes: &mut GroupChanges,
    ops: &[Op],
) -> rusqlite::Result<Vec<Result<Outcome, StoreError>>> {
    let start = *head;
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let before = *head;
        let mark = changes.mark();
        let savepoint = tx.savepoint()?;
        match op.apply(&savepoint, head, changes) {
            Ok(outcome) => {
                savepoint.commit()?;
                results.push(Ok(outcome));
            }
            Err(error) => {
                // Dropping the savepoint rolls it back.
                drop(savepoint);
                *head = before;
                changes.truncate(mark);
                results.push(Err(error));
            }
        }
    }
    if *head != start {
        store_head(&tx, *head)?;
    }
    tx.commit()?;
    Ok(results)
}
