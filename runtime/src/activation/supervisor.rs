//! The pipelines running on this member.
//!
//! The [`Supervisor`] owns one [`PipelineHandle`] per connector that runs
//! here, with what it runs: the connector's revision, the ownership epoch
//! and the lease term it was started under. The reconciler tells it to
//! [`Supervisor::start`] or [`Supervisor::stop`] one. Stops are graceful:
//! the pipeline checkpoints what was delivered, within a grace period, and
//! stragglers are aborted, waited for and named in the log.
//!
//! Commands for one connector are applied one at a time, in order (each
//! connector has its own gate); the table of running pipelines is locked
//! only to look a pipeline up, take it out or put it in, never across a
//! stop, so a connector that is slow to stop does not hold up the others.
//! A connector that has not run here since the node started shows what its
//! checkpoints say: its position and its totals. Each pipeline counts into
//! the node's metrics under its connector's label; its series go when it
//! is stopped here (disabled, deleted, handed over), so they stay bounded
//! by the pipelines this member runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::connector::{ConnectorId, ConnectorRepository, ConnectorState};
use crate::metrics::Metrics;
use crate::pipeline::{
    PipelineHandle, PipelineStatus, RunState, StageFactory, StageModule, StatusSnapshot, Tenure,
};

/// How long a stopping pipeline may take to checkpoint and end.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// What a running pipeline was started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunKey {
    /// The connector's pipeline revision it runs (a rename does not
    /// change it).
    pub revision: u64,
    /// The ownership epoch it runs under.
    pub epoch: u64,
    /// The lease term it was started in.
    pub term: u64,
}

/// A pipeline as the reconciler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunInfo {
    pub key: RunKey,
    /// It ended on its own: faulted, or it may no longer deliver.
    pub finished: bool,
    pub faulted: bool,
}

struct Running {
    handle: PipelineHandle,
    key: RunKey,
}

impl Running {
    fn info(&self) -> RunInfo {
        RunInfo {
            key: self.key,
            finished: self.handle.is_finished(),
            faulted: self.handle.status().state() == RunState::Faulted,
        }
    }
}

#[derive(Default)]
struct Applied {
    running: HashMap<ConnectorId, Running>,
    /// Held while a command for the connector is applied, start to end.
    gates: HashMap<ConnectorId, Arc<tokio::sync::Mutex<()>>>,
}

/// Runs the pipelines of the connectors this member owns.
pub struct Supervisor {
    repository: ConnectorRepository,
    stages: Arc<dyn StageFactory>,
    /// Never held across an await.
    applied: Mutex<Applied>,
    /// Read by the API without waiting for a start or stop in progress.
    statuses: Mutex<HashMap<ConnectorId, Arc<PipelineStatus>>>,
    pub(super) stop_grace: Duration,
    /// Where the pipelines count; a stopped pipeline's series go.
    metrics: Metrics,
}

impl Supervisor {
    pub fn new(repository: ConnectorRepository, stages: Arc<dyn StageFactory>) -> Self {
        Self {
            repository,
            stages,
            applied: Mutex::new(Applied::default()),
            statuses: Mutex::new(HashMap::new()),
            stop_grace: STOP_GRACE,
            metrics: Metrics::default(),
        }
    }

    /// The supervisor, with its pipelines counting into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    fn applied(&self) -> std::sync::MutexGuard<'_, Applied> {
        self.applied.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn gate(&self, id: &ConnectorId) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(self.applied().gates.entry(id.clone()).or_default())
    }

    /// What runs for the connector here, if anything.
    pub fn running(&self, id: &ConnectorId) -> Option<RunInfo> {
        self.applied().running.get(id).map(Running::info)
    }

    /// Every pipeline here, ended or not.
    pub fn run_infos(&self) -> HashMap<ConnectorId, RunInfo> {
        let applied = self.applied();
        applied
            .running
            .iter()
            .map(|(id, running)| (id.clone(), running.info()))
            .collect()
    }

    /// The connectors with a pipeline here that has not ended.
    pub fn running_ids(&self) -> Vec<ConnectorId> {
        let applied = self.applied();
        let mut ids: Vec<_> = applied
            .running
            .iter()
            .filter(|(_, r)| !r.handle.is_finished())
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// (Re)starts the connector's pipeline as `key` says, under `tenure`;
    /// a pipeline already running for it is stopped first.
    pub async fn start(&self, state: &ConnectorState, key: RunKey, tenure: Tenure) {
        let gate = self.gate(&state.id);
        let _in_order = gate.lock().await;
        let previous = self.applied().running.remove(&state.id);
        if let Some(previous) = previous {
            stop(&state.id, previous, self.stop_grace).await;
        }
        let handle = PipelineHandle::spawn(
            self.repository.clone(),
            Arc::clone(&self.stages),
            state.clone(),
            tenure,
            self.metrics.connector(state.id.as_str()),
        );
        self.set_status(&state.id, Some(Arc::clone(handle.status())));
        self.applied()
            .running
            .insert(state.id.clone(), Running { handle, key });
        tracing::info!(connector = %state.id, round = state.round, epoch = key.epoch, "connector started");
    }

    /// Stops the connector's pipeline, if one runs, within `grace` (the
    /// pipeline checkpoints what it delivered), and removes its metrics
    /// series (they are for pipelines on this member); a `forget`-ten
    /// connector (deleted) no longer shows a status.
    pub async fn stop(&self, id: &ConnectorId, grace: Option<Duration>, forget: bool) {
        let gate = self.gate(id);
        let _in_order = gate.lock().await;
        let previous = self.applied().running.remove(id);
        if let Some(previous) = previous {
            stop(id, previous, grace.unwrap_or(self.stop_grace)).await;
            tracing::info!(connector = %id, "connector stopped");
        }
        self.metrics.remove_connector(id.as_str());
        if forget {
            self.set_status(id, None);
            self.applied().gates.remove(id);
        }
    }

    fn set_status(&self, id: &ConnectorId, status: Option<Arc<PipelineStatus>>) {
        let mut statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        match status {
            Some(s) => statuses.insert(id.clone(), s),
            None => statuses.remove(id),
        };
    }

    /// The live status of a connector that runs (or ran) here since the
    /// node started.
    pub fn live_status(&self, id: &ConnectorId) -> Option<StatusSnapshot> {
        let statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        statuses.get(id).map(|status| status.snapshot())
    }

    /// The statuses of the connectors running here, to publish.
    pub fn running_statuses(&self) -> BTreeMap<ConnectorId, StatusSnapshot> {
        let ids = self.running_ids();
        let statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        ids.into_iter()
            .filter_map(|id| {
                let snapshot = statuses.get(&id)?.snapshot();
                Some((id, snapshot))
            })
            .collect()
    }

    /// The connector's live status when it runs (or ran) here since the
    /// node started, else what its checkpoints say.
    pub async fn status(&self, connector: &ConnectorState) -> StatusSnapshot {
        match self.live_status(&connector.id) {
            Some(live) => live,
            None => self.stored_status(connector).await,
        }
    }

    /// What the connector's checkpoints say, as a status of a connector
    /// that does not run here.
    pub async fn stored_status(&self, connector: &ConnectorState) -> StatusSnapshot {
        match self
            .repository
            .progress(&connector.id, connector.round)
            .await
        {
            Ok(progress) => StatusSnapshot::stored(progress.checkpoint, progress.totals),
            Err(e) => {
                tracing::warn!(connector = %connector.id, error = %e, "could not read the checkpoints for a status");
                PipelineStatus::new(RunState::Disabled).snapshot()
            }
        }
    }

    /// The module versions the connector's WebAssembly stages run on this
    /// member; empty when it does not run here.
    pub fn running_stages(&self, id: &ConnectorId) -> Vec<StageModule> {
        self.live_status(id)
            .map(|status| status.stages)
            .unwrap_or_default()
    }

    /// Stops every pipeline, checkpointing what was delivered.
    pub async fn stop_all(&self) {
        let ids: Vec<ConnectorId> = self.applied().running.keys().cloned().collect();
        let stops = ids.iter().map(|id| self.stop(id, None, false));
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
    if status.state() != RunState::Faulted {
        status.set_state(RunState::Disabled);
    }
}

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
