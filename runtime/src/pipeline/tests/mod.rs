//! The real pipeline, in-process, against the embedded store in a tempdir
//! and a [`MockDestination`]: order, dead letters, faults, stops and
//! tenure, each asserted through what the sink received and what the store
//! holds; with strict ordering (`strict`) and ordered by key (`keyed`).

mod keyed;
mod strict;

use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::time::Instant;

use super::context::RunContext;
use super::delivery::{deliver, Delivery};
use super::fault::Fault;
use super::testing::{MockDestination, NoStages, SinkProbe, Step, WAIT_BOUND};
use super::*;
use crate::connector::{Command, ConnectorId};
use crate::sinks::{OwnerTag, SinkContext};
use crate::store::embedded::SqliteStore;
use crate::store::{
    Direction, EventStore, ExpectedRevision, NewEvent, Position, RecordedEvent, StreamStart,
};

/// A store in a tempdir with one connector, created enabled.
struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn EventStore>,
    repository: ConnectorRepository,
    connector: ConnectorState,
}

impl Fixture {
    /// A connector of the `orders` stream with `settings` added to its
    /// definition; a checkpoint after every event.
    async fn new(settings: serde_json::Value) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteStore::open(&dir.path().join("events.db")).expect("store"));
        let repository = ConnectorRepository::new(Arc::clone(&store));
        let mut definition = json!({
            "sink": { "type": "console" },
            "filter": { "streams": { "prefixes": ["orders"] } },
            "checkpoint": { "everyEvents": 1 },
        });
        if let (Some(definition), Some(settings)) =
            (definition.as_object_mut(), settings.as_object())
        {
            definition.extend(settings.clone());
        }
        let connector = repository
            .execute(
                &ConnectorId::parse("c").expect("id"),
                Command::Create {
                    definition: serde_json::from_value(definition).expect("definition"),
                    enable: true,
                    name: None,
                },
            )
            .await
            .expect("create");
        Self {
            _dir: dir,
            store,
            repository,
            connector,
        }
    }

    /// Appends `count` events to `orders` (revisions 0..count), one append
    /// each, with another stream's event between them; their positions.
    async fn append(&self, count: u64) -> Vec<Position> {
        let mut positions = Vec::new();
        for n in 0..count {
            let written = self
                .store
                .append(
                    "orders",
                    ExpectedRevision::Any,
                    vec![NewEvent::json("Placed", &json!({ "n": n }))],
                )
                .await
                .expect("append");
            positions.push(written.position);
            self.store
                .append(
                    "other",
                    ExpectedRevision::Any,
                    vec![NewEvent::json("Noise", &json!({}))],
                )
                .await
                .expect("append");
        }
        positions
    }

    /// Appends `per_stream` events to each of `orders-0` .. `orders-{streams
    /// - 1}`, taking turns, one append each; what was written, in log order.
    async fn append_streams(&self, streams: u64, per_stream: u64) -> Vec<RecordedEvent> {
        for _ in 0..per_stream {
            for s in 0..streams {
                self.store
                    .append(
                        &format!("orders-{s}"),
                        ExpectedRevision::Any,
                        vec![NewEvent::json("Placed", &json!({ "s": s }))],
                    )
                    .await
                    .expect("append");
            }
        }
        let mut written = Vec::new();
        for s in 0..streams {
            written.extend(
                self.store
                    .read_stream(
                        &format!("orders-{s}"),
                        Direction::Forwards,
                        StreamStart::Start,
                        per_stream as usize,
                    )
                    .await
                    .expect("read"),
            );
        }
        written.sort_by_key(|e| e.position);
        written
    }

    /// Runs the pipeline with a mock sink of batches of one event.
    async fn spawn(
        &self,
        tenure: Tenure,
        script: Vec<Step>,
        refused: Vec<u64>,
    ) -> (PipelineHandle, SinkProbe) {
        self.spawn_batches_of(1, tenure, script, refused).await
    }

    /// Runs the pipeline with a mock sink of batches of `max_events`.
    async fn spawn_batches_of(
        &self,
        max_events: usize,
        tenure: Tenure,
        script: Vec<Step>,
        refused: Vec<u64>,
    ) -> (PipelineHandle, SinkProbe) {
        let (destination, probe) = MockDestination::new(max_events, script, refused);
        let handle = PipelineHandle::spawn_with_sink(
            self.repository.clone(),
            Arc::new(NoStages),
            self.connector.clone(),
            tenure,
            move |ctx| Box::new(destination.sink(ctx)),
        );
        (handle, probe)
    }

    async fn checkpoint(&self) -> Option<Position> {
        self.repository
            .checkpoint(&self.connector.id, self.connector.round)
            .await
            .expect("checkpoint")
            .map(|c| c.position)
    }

    async fn dead_letters(&self) -> Vec<RecordedEvent> {
        self.store
            .read_stream(
                &self.connector.id.dead_letter_stream(),
                Direction::Forwards,
                StreamStart::Start,
                100,
            )
            .await
            .unwrap_or_default()
    }
}

/// Whether the checkpoint names a position at or after `handled` and
/// before `next` (events between are other streams', filtered out).
fn between(checkpoint: Option<Position>, handled: Position, next: Option<Position>) -> bool {
    checkpoint.is_some_and(|c| c >= handled && next.is_none_or(|n| c < n))
}

fn revisions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.revision).collect()
}

/// A tenure that holds until the test sets its lease to `None`.
fn revocable_tenure() -> (Tenure, Arc<Mutex<Option<Instant>>>) {
    let lease = Arc::new(Mutex::new(Some(
        Instant::now() + std::time::Duration::from_secs(86_400),
    )));
    let until = Arc::clone(&lease);
    let tenure = Tenure::new(
        OwnerTag {
            member: "m1".into(),
            epoch: 1,
        },
        move || *until.lock().expect("lease"),
    );
    (tenure, lease)
}

async fn wait_until_finished(handle: &PipelineHandle) {
    tokio::time::timeout(WAIT_BOUND, async {
        while !handle.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the pipeline ended in time");
}
