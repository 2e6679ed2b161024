use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::module_stages::StageModule;
use crate::secrets::redact_in;
use crate::store::Position;

/// What a pipeline is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
}

/// The live status of one connector's pipeline, shared between the pipeline
/// (which writes it) and the API (which reads it).
#[derive(Debug)]
pub struct PipelineStatus {
    inner: Mutex<StatusInner>,
    delivered: AtomicU64,
    failed: AtomicU64,
    dead_lettered: AtomicU64,
    filtered_out: AtomicU64,
}

#[derive(Debug, Clone)]
struct StatusInner {
    state: RunState,
    position: Option<Position>,
    checkpoint: Option<Position>,
    caught_up: bool,
    last_error: Option<LastError>,
    /// The connector's secrets, hidden in every message.
    hidden: Vec<String>,
    /// The module version each WebAssembly stage runs.
    stages: Vec<StageModule>,
}

/// The most recent error and when it happened.
#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    pub message: String,
    pub at: DateTime<Utc>,
}

/// A copy of the status at one moment, as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusSnapshot {
    pub state: RunState,
    /// The position of the last event delivered (or filtered out).
    pub position: Option<u64>,
    /// The last position saved as a checkpoint.
    pub checkpoint: Option<u64>,
    pub caught_up: bool,
    pub delivered: u64,
    pub failed: u64,
    pub dead_lettered: u64,
    pub filtered_out: u64,
    pub last_error: Option<LastError>,
    /// The module version each WebAssembly stage runs, once started.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageModule>,
}

impl PipelineStatus {
    pub fn new(state: RunState) -> Self {
        Self {
            inner: Mutex::new(StatusInner {
                state,
                position: None,
                checkpoint: None,
                caught_up: false,
                last_error: None,
                hidden: Vec::new(),
                stages: Vec::new(),
            }),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            filtered_out: AtomicU64::new(0),
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

    pub fn set_caught_up(&self) {
        self.with(|s| s.caught_up = true);
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
        self.set_state(RunState::Faulted);
    }

    pub fn add_delivered(&self, n: u64) {
        self.delivered.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_failed(&self, n: u64) {
        self.failed.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_dead_lettered(&self, n: u64) {
        self.dead_lettered.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_filtered_out(&self, n: u64) {
        self.filtered_out.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatusSnapshot {
        let inner = self.with(|s| s.clone());
        StatusSnapshot {
            state: inner.state,
            position: inner.position.map(|p| p.commit),
            checkpoint: inner.checkpoint.map(|p| p.commit),
            caught_up: inner.caught_up,
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            filtered_out: self.filtered_out.load(Ordering::Relaxed),
            last_error: inner.last_error,
            stages: inner.stages,
        }
    }
}
