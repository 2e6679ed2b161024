//! The live status of a pipeline: its state, where it is in the log, its
//! counters and its last error, written by the pipeline and read by the API.
//!
//! Counters come in two kinds: the connector's totals (carried in its
//! checkpoints, so they go on across disable / enable, resets and restarts of
//! the node, and survive a crash up to the last checkpoint) and the counts of
//! the current run, shown with when the run started. `caughtUp` is decided
//! against the log's head at the moment the status is read
//! ([`StatusSnapshot::measure`]), never remembered. The status of a running
//! pipeline also counts into the node's metrics ([`PipelineStatus::counting`]).

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::module_stages::StageModule;
use crate::connector::{Checkpoint, Counters};
use crate::metrics::ConnectorMetrics;
use crate::secrets::redact_in;
use crate::store::Position;

/// What a pipeline is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Not running because the connector is disabled.
    Disabled,
    /// Loading its checkpoint and subscribing.
    Starting,
    /// Delivering events.
    Running,
    /// Stopping after a disable, reconfiguration or shutdown.
    Stopping,
    /// Stopped by an error; enable the connector again to restart it.
    Faulted,
    /// Enabled, but no member that its affinity admits is alive: it waits
    /// for one (the status says why).
    Unassigned,
}

/// The live status of one connector's pipeline, shared between the pipeline
/// (which writes it) and the API (which reads it).
#[derive(Debug)]
pub struct PipelineStatus {
    inner: Mutex<StatusInner>,
    /// Where the counts also go, for a running pipeline.
    metrics: Option<ConnectorMetrics>,
}

#[derive(Debug, Clone)]
struct StatusInner {
    state: RunState,
    position: Option<Position>,
    checkpoint: Option<Position>,
    /// A delivery (or the subscription) is being retried after a failure.
    retrying: bool,
    last_error: Option<LastError>,
    /// The connector's totals when this run started, from its checkpoints.
    totals_before: Counters,
    /// Counts of this run.
    run: Counters,
    started_at: DateTime<Utc>,
    /// Whether this status belongs to a run on this member (rather than
    /// being read back from the store).
    ran_here: bool,
    /// The connector's secrets, hidden in every message.
    hidden: Vec<String>,
    /// The module version each WebAssembly stage runs.
    stages: Vec<StageModule>,
}

/// The most recent error and when it happened.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastError {
    /// What went wrong, secrets hidden.
    pub message: String,
    /// When (RFC 3339, UTC).
    pub at: DateTime<Utc>,
}

/// The counts of one run of a pipeline (since it was last started by an
/// enable, a reset, a reconfiguration or a start of the node).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunCounts {
    /// When the run started (RFC 3339, UTC).
    pub started_at: DateTime<Utc>,
    #[serde(flatten)]
    pub counts: Counters,
}

/// A copy of the status at one moment, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusSnapshot {
    /// What the pipeline is doing.
    pub state: RunState,
    /// The position of the last event delivered (or filtered out).
    pub position: Option<u64>,
    /// The last position saved as a checkpoint.
    pub checkpoint: Option<u64>,
    /// Everything up to the log's head as of now was delivered: false while
    /// there is lag, while faulted and while retrying. Only meaningful after
    /// [`StatusSnapshot::measure`].
    pub caught_up: bool,
    /// A failed delivery is being retried (see `lastError`).
    pub retrying: bool,
    /// Totals since the connector was created, across runs.
    #[serde(flatten)]
    pub totals: Counters,
    /// The counts of the current (or last) run on this member; `None` when
    /// it has not run here since the node started.
    pub run: Option<RunCounts>,
    /// The most recent error, when there was one.
    pub last_error: Option<LastError>,
    /// The module version each WebAssembly stage runs, once started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageModule>,
}

impl StatusSnapshot {
    /// The status of a connector that has not run on this member since the
    /// node started, from its stored checkpoints.
    pub fn stored(checkpoint: Option<Checkpoint>, totals: Counters) -> Self {
        let position = checkpoint.map(|c| c.position.commit);
        Self {
            state: RunState::Disabled,
            position,
            checkpoint: position,
            caught_up: false,
            retrying: false,
            totals,
            run: None,
            last_error: None,
            stages: Vec::new(),
        }
    }

    /// Measures the snapshot against the log's `head` as of now: returns the
    /// lag (how far the head is past `position`) and settles `caughtUp`.
    pub fn measure(&mut self, head: Option<u64>, enabled: bool) -> Option<u64> {
        let lag = match (head, self.position) {
            (Some(head), Some(position)) => Some(head.saturating_sub(position)),
            (Some(head), None) if enabled => Some(head),
            (None, _) => Some(0),
            _ => None,
        };
        self.caught_up = lag == Some(0) && !self.retrying && self.state != RunState::Faulted;
        lag
    }
}

impl PipelineStatus {
    pub fn new(state: RunState) -> Self {
        Self {
            inner: Mutex::new(StatusInner {
                state,
                position: None,
                checkpoint: None,
                retrying: false,
                last_error: None,
                totals_before: Counters::default(),
                run: Counters::default(),
                started_at: Utc::now(),
                ran_here: state != RunState::Disabled,
                hidden: Vec::new(),
                stages: Vec::new(),
            }),
            metrics: None,
        }
    }

    /// The status of a running pipeline, whose counts also go to `metrics`.
    pub fn counting(state: RunState, metrics: ConnectorMetrics) -> Self {
        Self {
            metrics: Some(metrics),
            ..Self::new(state)
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut StatusInner) -> R) -> R {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    pub fn state(&self) -> RunState {
        self.with(|s| s.state)
    }

    pub fn set_state(&self, state: RunState) {
        self.with(|s| s.state = state);
    }

    pub fn set_position(&self, position: Position) {
        self.with(|s| s.position = Some(position));
    }

    pub fn set_checkpoint(&self, position: Position) {
        self.with(|s| s.checkpoint = Some(position));
    }

    /// The connector's totals before this run, read from its checkpoints.
    pub fn set_totals_before(&self, totals: Counters) {
        self.with(|s| s.totals_before = totals);
    }

    /// The connector's totals: before this run plus this run.
    pub fn totals(&self) -> Counters {
        self.with(|s| s.totals_before.plus(s.run))
    }

    /// Marks a retry in progress (`true`) or over (`false`).
    pub fn set_retrying(&self, retrying: bool) {
        self.with(|s| s.retrying = retrying);
    }

    /// Records which module version a stage runs.
    pub fn add_stage_module(&self, module: StageModule) {
        self.with(|s| s.stages.push(module));
    }

    /// Hides these values (the connector's secrets) in every message.
    pub fn hide(&self, secrets: Vec<String>) {
        self.with(|s| s.hidden = secrets);
    }

    /// `text` with its URLs masked (userinfo, query values) and the
    /// connector's secrets replaced by `******`: a destination's answer may
    /// echo a credential.
    pub fn redact(&self, text: &str) -> String {
        self.with(|s| redact_in(text, &s.hidden))
    }

    /// Records the most recent error, [redacted](Self::redact).
    pub fn record_error(&self, message: impl Into<String>) {
        let error = LastError {
            message: self.redact(&message.into()),
            at: Utc::now(),
        };
        self.with(|s| s.last_error = Some(error));
    }

    /// Faults the pipeline with `message`.
    pub fn fault(&self, message: impl Into<String>) {
        self.record_error(message);
        self.with(|s| {
            s.state = RunState::Faulted;
            s.retrying = false;
        });
    }

    pub fn add_delivered(&self, n: u64) {
        self.with(|s| s.run.delivered += n);
        if let Some(metrics) = &self.metrics {
            metrics.delivered.inc_by(n);
        }
    }

    pub fn add_failed(&self, n: u64) {
        self.with(|s| s.run.failed += n);
        if let Some(metrics) = &self.metrics {
            metrics.failed.inc_by(n);
        }
    }

    pub fn add_dead_lettered(&self, n: u64) {
        self.with(|s| s.run.dead_lettered += n);
        if let Some(metrics) = &self.metrics {
            metrics.dead_lettered.inc_by(n);
        }
    }

    pub fn add_filtered_out(&self, n: u64) {
        self.with(|s| s.run.filtered_out += n);
        if let Some(metrics) = &self.metrics {
            metrics.filtered_out.inc_by(n);
        }
    }

    /// The metrics this status counts into, for a running pipeline.
    pub fn metrics(&self) -> Option<&ConnectorMetrics> {
        self.metrics.as_ref()
    }

    /// The status now; `caughtUp` is settled by [`StatusSnapshot::measure`].
    pub fn snapshot(&self) -> StatusSnapshot {
        let inner = self.with(|s| s.clone());
        StatusSnapshot {
            state: inner.state,
            position: inner.position.map(|p| p.commit),
            checkpoint: inner.checkpoint.map(|p| p.commit),
            caught_up: false,
            retrying: inner.retrying,
            totals: inner.totals_before.plus(inner.run),
            run: inner.ran_here.then_some(RunCounts {
                started_at: inner.started_at,
                counts: inner.run,
            }),
            last_error: inner.last_error,
            stages: inner.stages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running_at(position: u64) -> StatusSnapshot {
        let status = PipelineStatus::new(RunState::Starting);
        status.set_state(RunState::Running);
        status.set_position(Position::new(position, position));
        status.snapshot()
    }

    #[test]
    fn caught_up_only_at_the_head() {
        let mut at_head = running_at(10);
        assert_eq!(at_head.measure(Some(10), true), Some(0));
        assert!(at_head.caught_up);
        let mut behind = running_at(10);
        assert_eq!(behind.measure(Some(12), true), Some(2));
        assert!(!behind.caught_up);
    }

    #[test]
    fn never_caught_up_while_retrying_or_faulted() {
        let status = PipelineStatus::new(RunState::Running);
        status.set_position(Position::new(10, 10));
        status.set_retrying(true);
        let mut retrying = status.snapshot();
        retrying.measure(Some(10), true);
        assert!(!retrying.caught_up && retrying.retrying);
        status.fault("sink failed");
        let mut faulted = status.snapshot();
        faulted.measure(Some(10), true);
        assert!(!faulted.caught_up && !faulted.retrying);
    }

    #[test]
    fn totals_add_this_run_to_the_stored_ones() {
        let status = PipelineStatus::new(RunState::Starting);
        status.set_totals_before(Counters {
            delivered: 7,
            ..Counters::default()
        });
        status.add_delivered(3);
        let snapshot = status.snapshot();
        assert_eq!(snapshot.totals.delivered, 10);
        assert_eq!(snapshot.run.map(|r| r.counts.delivered), Some(3));
    }
}
