//! Which connectors run on this member, and their running pipelines.
//!
//! The [`Supervisor`] owns one [`PipelineHandle`] per running connector,
//! registered under its id. After every change to a connector the API calls
//! [`Supervisor::apply`] with the new state; the supervisor starts, restarts
//! (new definition or round, or after a fault) or stops its pipeline. Stops
//! are graceful: the pipeline checkpoints what was delivered, within a grace
//! period, and stragglers are aborted, waited for and named in the log.
//!
//! Commands for one connector are applied one at a time, in order (each
//! connector has its own gate); the table of running pipelines is locked
//! only to look a pipeline up, take it out or put it in, never across a
//! stop, so a connector that is slow to stop does not hold up the others.
//! A connector that has not
//! run here since the node started shows what its checkpoints say: its
//! position and its totals. A connector whose stored events cannot be read
//! is not started; the others are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::connector::{
    CommandError, ConnectorDefinition, ConnectorId, ConnectorRepository, ConnectorState,
};
use crate::pipeline::{
    PipelineHandle, PipelineStatus, RunState, StageFactory, StageModule, StatusSnapshot,
};

/// How long a stopping pipeline may take to checkpoint and end.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

struct Running {
    handle: PipelineHandle,
    definition: ConnectorDefinition,
    round: u64,
}

/// The pipelines and the newest connector revision applied to them.
#[derive(Default)]
struct Applied {
    running: HashMap<ConnectorId, Running>,
    revisions: HashMap<ConnectorId, u64>,
    /// Held while a command for the connector is applied, start to end.
    gates: HashMap<ConnectorId, Arc<tokio::sync::Mutex<()>>>,
}

/// Runs the pipelines of the enabled connectors.
pub struct Supervisor {
    repository: ConnectorRepository,
    stages: Arc<dyn StageFactory>,
    /// Never held across an await.
    applied: Mutex<Applied>,
    /// Read by the API without waiting for a start or stop in progress.
    statuses: Mutex<HashMap<ConnectorId, Arc<PipelineStatus>>>,
    stop_grace: Duration,
}

impl Supervisor {
    pub fn new(repository: ConnectorRepository, stages: Arc<dyn StageFactory>) -> Self {
        Self {
            repository,
            stages,
            applied: Mutex::new(Applied::default()),
            statuses: Mutex::new(HashMap::new()),
            stop_grace: STOP_GRACE,
        }
    }

    /// Starts every enabled connector in the store. One that cannot be read
    /// is passed over (the API lists it as faulted with the reason) so the
    /// others still run.
    pub async fn start_all(&self) -> Result<usize, CommandError> {
        let listing = self.repository.list().await?;
        for unreadable in &listing.unreadable {
            tracing::error!(connector = %unreadable.id, reason = %unreadable.reason, "connector cannot be read and does not run");
        }
        let mut started = 0;
        for connector in &listing.connectors {
            self.apply(connector).await;
            started += usize::from(connector.should_run());
        }
        Ok(started)
    }

    fn applied(&self) -> std::sync::MutexGuard<'_, Applied> {
        self.applied.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings the connector's pipeline in line with `state`. A state older
    /// than one already applied (two requests racing) is ignored. Waits
    /// only for earlier commands for the same connector.
    pub async fn apply(&self, state: &ConnectorState) {
        let gate = {
            let mut applied = self.applied();
            Arc::clone(applied.gates.entry(state.id.clone()).or_default())
        };
        let _in_order = gate.lock().await;
        let previous = {
            let mut applied = self.applied();
            if applied
                .revisions
                .get(&state.id)
                .is_some_and(|r| *r > state.revision)
            {
                return;
            }
            applied.revisions.insert(state.id.clone(), state.revision);
            if let Some(current) = applied.running.get(&state.id) {
                let unchanged = state.should_run()
                    && current.definition == state.definition
                    && current.round == state.round
                    && !current.handle.is_finished();
                if unchanged {
                    return;
                }
            }
            applied.running.remove(&state.id)
        };
        if let Some(previous) = previous {
            stop(&state.id, previous, self.stop_grace).await;
        }
        if state.should_run() {
            let handle = PipelineHandle::spawn(
                self.repository.clone(),
                Arc::clone(&self.stages),
                state.clone(),
            );
            self.set_status(&state.id, Some(Arc::clone(handle.status())));
            self.applied().running.insert(
                state.id.clone(),
                Running {
                    handle,
                    definition: state.definition.clone(),
                    round: state.round,
                },
            );
            tracing::info!(connector = %state.id, round = state.round, "connector started");
        } else if state.deleted {
            self.set_status(&state.id, None);
        }
    }

    fn set_status(&self, id: &ConnectorId, status: Option<Arc<PipelineStatus>>) {
        let mut statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        match status {
            Some(s) => statuses.insert(id.clone(), s),
            None => statuses.remove(id),
        };
    }

    /// The live status of a connector; when it has not run here since the
    /// node started, its stored position and totals, as disabled.
    pub async fn status(&self, connector: &ConnectorState) -> StatusSnapshot {
        let live = {
            let statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
            statuses.get(&connector.id).map(|status| status.snapshot())
        };
        if let Some(live) = live {
            return live;
        }
        match self
            .repository
            .progress(&connector.id, connector.round)
            .await
        {
            Ok((checkpoint, totals)) => StatusSnapshot::stored(checkpoint, totals),
            Err(e) => {
                tracing::warn!(connector = %connector.id, error = %e, "could not read the checkpoints for a status");
                PipelineStatus::new(RunState::Disabled).snapshot()
            }
        }
    }

    /// The module versions the connector's WebAssembly stages run on this
    /// member; empty when it does not run here.
    pub fn running_stages(&self, id: &ConnectorId) -> Vec<StageModule> {
        let statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        statuses
            .get(id)
            .map(|status| status.snapshot().stages)
            .unwrap_or_default()
    }

    /// Stops every pipeline, checkpointing what was delivered.
    pub async fn stop_all(&self) {
        let running: Vec<_> = self.applied().running.drain().collect();
        let grace = self.stop_grace;
        let stops = running
            .into_iter()
            .map(|(id, r)| async move { stop(&id, r, grace).await });
        futures::future::join_all(stops).await;
    }
}

/// Stops a pipeline; it counts as stopped once its task has ended (or was
/// aborted and left behind after a bounded wait).
async fn stop(id: &ConnectorId, running: Running, grace: Duration) {
    let status = Arc::clone(running.handle.status());
    if status.state() != RunState::Faulted {
        status.set_state(RunState::Stopping);
    }
    if !running.handle.stop(grace).await {
        tracing::warn!(connector = %id, grace_ms = grace.as_millis() as u64, "pipeline did not stop in time and was aborted");
    }
    // A pipeline replaced by a new one is no longer shown; one that is not
    // replaced stays visible as disabled, with its counters and last error.
    status.set_state(RunState::Disabled);
}

#[cfg(test)]
mod tests;
