use std::time::Duration;

use tokio::time::Instant;

use crate::connector::{Checkpoint, CheckpointConfig, ConnectorId, ConnectorRepository, Counters};
use crate::store::Position;

use super::status::PipelineStatus;

/// Saves the delivered position every N events or T milliseconds, whichever
/// comes first, with the connector's totals so far (so counters survive
/// restarts). Only positions whose event and every event before it were
/// acknowledged are ever given to it.
pub(super) struct Checkpointer {
    repository: ConnectorRepository,
    id: ConnectorId,
    round: u64,
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
    ) -> Self {
        Self {
            repository,
            id,
            round,
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

    /// When the next save is due by time, if there is anything to save.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.map(|_| self.last_save + self.every)
    }

    fn due(&self) -> bool {
        self.pending.is_some()
            && (self.events_since_save >= self.every_events
                || self.last_save.elapsed() >= self.every)
    }

    /// Saves if a save is due.
    pub async fn save_if_due(&mut self, status: &PipelineStatus) {
        if self.due() {
            self.save(status).await;
        }
    }

    /// Saves what is pending now; with nothing pending, saves the totals
    /// again at the last saved position if they changed (events refused
    /// before a fault). A failed save is reported and tried again next
    /// time: delivery goes on, at worst with more duplicates after a crash.
    pub async fn save(&mut self, status: &PipelineStatus) {
        let totals = status.totals();
        let Some(position) = self
            .pending
            .or(self.saved.filter(|_| totals != self.saved_totals))
        else {
            return;
        };
        let checkpoint = Checkpoint {
            round: self.round,
            position,
            totals,
        };
        match self.repository.save_checkpoint(&self.id, checkpoint).await {
            Ok(()) => {
                self.pending = None;
                self.saved = Some(position);
                self.saved_totals = totals;
                self.events_since_save = 0;
                self.last_save = Instant::now();
                status.set_checkpoint(position);
            }
            Err(e) => {
                tracing::warn!(connector = %self.id, error = %e, "could not save checkpoint");
                status.record_error(format!("could not save checkpoint: {e}"));
                self.last_save = Instant::now();
            }
        }
    }
}
