use std::time::Duration;

use tokio::time::Instant;

use crate::connector::{Checkpoint, CheckpointConfig, ConnectorId, ConnectorRepository, Counters};
use crate::store::{ExpectedRevision, Position, StoreError};

use super::status::PipelineStatus;
use super::tenure::Tenure;

/// How far the position must move past the last save through events the
/// subscription's filter skipped alone (no event read) before that progress
/// is saved on time: log positions, events on the embedded store, bytes on
/// KurrentDB. Below it such progress is saved only at a stop. Saving every
/// skip would never settle: each checkpoint is itself an event that every
/// connector skips, so idle connectors would checkpoint each other forever.
const SKIPPED_PROGRESS_TO_SAVE: u64 = 64 * 1024;

/// Saves the delivered position every N events or T milliseconds, whichever
/// comes first, with the connector's totals so far (so counters survive
/// restarts). Only positions whose event and every event before it were
/// acknowledged are ever given to it.
///
/// Each save expects the checkpoint stream where this pipeline last read or
/// wrote it: a write by anyone else in between (the member that took the
/// connector over) makes the save fail as [`Fenced`], and the pipeline
/// stops; so does a save after the member lost its [`Tenure`].
pub(super) struct Checkpointer {
    repository: ConnectorRepository,
    id: ConnectorId,
    round: u64,
    tenure: Tenure,
    /// Where the checkpoint stream is, as this pipeline last saw it.
    expected: ExpectedRevision,
    every_events: u64,
    every: Duration,
    /// Delivered, not yet saved.
    pending: Option<Position>,
    /// The position and totals last saved (or resumed from).
    saved: Option<Position>,
    saved_totals: Counters,
    events_since_save: u64,
    last_save: Instant,
}

impl Checkpointer {
    pub fn new(
        repository: ConnectorRepository,
        id: ConnectorId,
        round: u64,
        config: CheckpointConfig,
        resumed_from: Option<Checkpoint>,
        tenure: Tenure,
        expected: ExpectedRevision,
    ) -> Self {
        Self {
            repository,
            id,
            round,
            tenure,
            expected,
            every_events: config.every_events,
            every: Duration::from_millis(config.every_ms),
            pending: None,
            saved: resumed_from.map(|c| c.position),
            saved_totals: resumed_from.map(|c| c.totals).unwrap_or_default(),
            events_since_save: 0,
            last_save: Instant::now(),
        }
    }

    /// Everything up to `position` was handled; `events` of them were events.
    pub fn advance(&mut self, position: Position, events: u64) {
        if self.pending.is_none_or(|p| position > p) {
            self.pending = Some(position);
        }
        self.events_since_save += events;
    }

    /// When the next save is due by time, if one will be.
    pub fn deadline(&self) -> Option<Instant> {
        self.worth_saving_on_time()
            .then(|| self.last_save + self.every)
    }

    /// Whether what is pending is saved once `every` has passed: events were
    /// read since the last save, or the filter skipped a long way.
    fn worth_saving_on_time(&self) -> bool {
        let Some(pending) = self.pending else {
            return false;
        };
        let saved = self.saved.map_or(0, |p| p.commit);
        self.events_since_save > 0
            || pending.commit.saturating_sub(saved) >= SKIPPED_PROGRESS_TO_SAVE
    }

    fn due(&self) -> bool {
        self.pending.is_some()
            && (self.events_since_save >= self.every_events
                || (self.worth_saving_on_time() && self.last_save.elapsed() >= self.every))
    }

    /// Saves if a save is due.
    pub async fn save_if_due(&mut self, status: &PipelineStatus) -> Result<(), Fenced> {
        if self.due() {
            self.save(status).await?;
        }
        Ok(())
    }

    /// Saves what is pending now; with nothing pending, saves the totals
    /// again at the last saved position if they changed (events refused
    /// before a fault). A failed save is reported and tried again next
    /// time: delivery goes on, at worst with more duplicates after a crash.
    /// Fails as [`Fenced`] when the pipeline may no longer write.
    pub async fn save(&mut self, status: &PipelineStatus) -> Result<(), Fenced> {
        let totals = status.totals();
        let Some(position) = self
            .pending
            .or(self.saved.filter(|_| totals != self.saved_totals))
        else {
            return Ok(());
        };
        if !self.tenure.holds() {
            return Err(Fenced::LeaseLost);
        }
        let checkpoint = Checkpoint {
            round: self.round,
            position,
            totals,
        };
        let started = Instant::now();
        match self
            .repository
            .save_checkpoint(&self.id, checkpoint, self.expected)
            .await
        {
            Ok(next) => {
                if let Some(metrics) = status.metrics() {
                    metrics.checkpoints.inc();
                    metrics
                        .checkpoint_seconds
                        .observe(started.elapsed().as_secs_f64());
                }
                self.expected = next;
                self.pending = None;
                self.saved = Some(position);
                self.saved_totals = totals;
                self.events_since_save = 0;
                self.last_save = Instant::now();
                status.set_checkpoint(position);
            }
            Err(StoreError::WrongExpectedRevision { .. }) => return Err(Fenced::Overtaken),
            Err(e) => {
                tracing::warn!(connector = %self.id, error = %e, "could not save checkpoint");
                status.record_error(format!("could not save checkpoint: {e}"));
                self.last_save = Instant::now();
            }
        }
        Ok(())
    }
}

/// Why a pipeline may no longer deliver or checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum Fenced {
    #[error("this member's lease on its connectors ran out (it could not reach the store in time); another member may run the connector now")]
    LeaseLost,
    #[error("another writer saved a checkpoint of the connector since this pipeline last did: another member runs it now")]
    Overtaken,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::pipeline::RunState;
    use crate::store::embedded::SqliteStore;

    fn checkpointer(dir: &tempfile::TempDir, resumed_from: Option<Checkpoint>) -> Checkpointer {
        let store = SqliteStore::open(&dir.path().join("events.db")).expect("store");
        Checkpointer::new(
            ConnectorRepository::new(Arc::new(store)),
            ConnectorId::parse("c").expect("id"),
            0,
            CheckpointConfig {
                every_events: 1000,
                every_ms: 10,
            },
            resumed_from,
            Tenure::unconditional(),
            ExpectedRevision::NoStream,
        )
    }

    #[tokio::test]
    async fn progress_through_skipped_events_alone_waits_for_a_long_way() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut checkpointer = checkpointer(&dir, None);
        // Past a few events the filter skipped (another connector's
        // checkpoint): no save on time, so idle connectors settle.
        checkpointer.advance(Position::new(3, 3), 0);
        assert!(checkpointer.deadline().is_none());
        assert!(!checkpointer.due());
        // Events read, or a long way skipped: saved on time.
        checkpointer.advance(Position::new(4, 4), 1);
        assert!(checkpointer.deadline().is_some());
        let mut far = self::checkpointer(&dir, None);
        far.advance(
            Position::new(SKIPPED_PROGRESS_TO_SAVE, SKIPPED_PROGRESS_TO_SAVE),
            0,
        );
        assert!(far.deadline().is_some());
    }

    #[tokio::test]
    async fn totals_are_saved_with_the_position_and_again_when_only_they_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let resumed = Checkpoint {
            round: 0,
            position: Position::new(7, 7),
            totals: Counters::default(),
        };
        let mut checkpointer = checkpointer(&dir, Some(resumed));
        let status = PipelineStatus::new(RunState::Running);
        status.add_failed(1);
        // Nothing pending (the first event was refused), yet the count is kept.
        checkpointer.save(&status).await.expect("saved");
        let repository = checkpointer.repository.clone();
        let id = checkpointer.id.clone();
        let saved = repository.checkpoint(&id, 0).await.expect("read");
        assert_eq!(
            saved.map(|c| (c.position.commit, c.totals.failed)),
            Some((7, 1))
        );
        assert_eq!(repository.totals(&id).await.expect("totals").failed, 1);
    }

    #[tokio::test]
    async fn an_older_rounds_checkpoints_never_evict_a_newer_rounds_start() {
        use crate::connector::{Command, ConnectorDefinition, StartFrom};
        use crate::store::{EventStore, NewEvent};

        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteStore::open(&dir.path().join("events.db")).expect("store"));
        let repository = ConnectorRepository::new(Arc::clone(&store));
        let id = ConnectorId::parse("c").expect("id");
        let definition: ConnectorDefinition =
            serde_json::from_value(serde_json::json!({ "sink": { "type": "console" } }))
                .expect("definition");
        repository
            .execute(
                &id,
                Command::Create {
                    definition,
                    enable: true,
                    name: None,
                },
            )
            .await
            .expect("create");
        store
            .append(
                "orders",
                ExpectedRevision::Any,
                vec![NewEvent::json("Placed", &serde_json::json!({}))],
            )
            .await
            .expect("append");
        let end = store
            .head_position()
            .await
            .expect("head")
            .expect("an event");
        let reset = repository
            .execute(&id, Command::Reset { to: StartFrom::End })
            .await
            .expect("reset");
        assert_eq!(reset.round, 1);

        // Round 0's pipeline, slow to stop, writes more checkpoints than the
        // stream keeps, all after round 1 began.
        let mut old_round = Checkpointer::new(
            repository.clone(),
            id.clone(),
            0,
            CheckpointConfig {
                every_events: 1,
                every_ms: 10,
            },
            None,
            Tenure::unconditional(),
            ExpectedRevision::NoStream,
        );
        let status = PipelineStatus::new(RunState::Running);
        for n in 1..=6 {
            old_round.advance(Position::new(n, n), 1);
            old_round.save(&status).await.expect("saved");
        }
        assert_eq!(
            repository
                .checkpoint(&id, 0)
                .await
                .expect("read")
                .map(|c| c.position),
            Some(Position::new(6, 6)),
            "the old round wrote its checkpoints"
        );

        // Round 1 still starts where the log ended when it began, not at the
        // live end.
        let state = repository.load(&id).await.expect("load").expect("exists");
        assert_eq!(state.round, 1);
        assert_eq!(repository.checkpoint(&id, 1).await.expect("read"), None);
        assert_eq!(state.round_start, StartFrom::After(end));
    }

    #[tokio::test]
    async fn a_pipeline_that_was_taken_over_or_lost_its_lease_cannot_move_the_checkpoint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut stale = checkpointer(&dir, None);
        let repository = stale.repository.clone();
        let id = stale.id.clone();
        let status = PipelineStatus::new(RunState::Running);
        stale.advance(Position::new(5, 5), 1);
        stale.save(&status).await.expect("the first save");

        // A pipeline resuming from what the checkpoint stream says now.
        let resumed = |tenure: Tenure| {
            let (repository, id) = (repository.clone(), id.clone());
            async move {
                let progress = repository.progress(&id, 0).await.expect("progress");
                let every = CheckpointConfig {
                    every_events: 1,
                    every_ms: 10,
                };
                Checkpointer::new(
                    repository,
                    id,
                    0,
                    every,
                    progress.checkpoint,
                    tenure,
                    progress.revision,
                )
            }
        };

        // Another member takes over and saves from where it resumed.
        let mut owner = resumed(Tenure::unconditional()).await;
        owner.advance(Position::new(6, 6), 1);
        owner.save(&status).await.expect("the new owner saves");

        // The stale writer is refused, and the checkpoint stays.
        stale.advance(Position::new(9, 9), 1);
        assert_eq!(stale.save(&status).await, Err(Fenced::Overtaken));
        let saved = repository.checkpoint(&id, 0).await.expect("read");
        assert_eq!(saved.map(|c| c.position), Some(Position::new(6, 6)));

        // A pipeline whose member lost its lease writes nothing at all.
        let held = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = Arc::clone(&held);
        let tag = crate::sinks::OwnerTag {
            member: "m1".into(),
            epoch: 3,
        };
        let mut leased = resumed(Tenure::new(tag, move || {
            flag.load(std::sync::atomic::Ordering::SeqCst)
                .then(|| Instant::now() + Duration::from_secs(60))
        }))
        .await;
        held.store(false, std::sync::atomic::Ordering::SeqCst);
        leased.advance(Position::new(7, 7), 1);
        assert_eq!(leased.save(&status).await, Err(Fenced::LeaseLost));
        let saved = repository.checkpoint(&id, 0).await.expect("read");
        assert_eq!(saved.map(|c| c.position), Some(Position::new(6, 6)));
    }
}
