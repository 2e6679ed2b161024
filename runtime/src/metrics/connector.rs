//! Per-connector counters and histograms: the families, the handles a
//! pipeline resolves once when it starts ([`ConnectorMetrics`]) and the
//! removal of a deleted connector's series.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::buckets;
use super::labels::{ConnectorLabel, StageLabels};
use super::sink::{SinkFamilies, SinkMetrics};

type Counters = Family<ConnectorLabel, Counter>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every per-connector family (clones share their series).
#[derive(Clone)]
pub(super) struct ConnectorFamilies {
    read: Counters,
    filtered_out: Counters,
    delivered: Counters,
    dead_lettered: Counters,
    failed: Counters,
    retries: Counters,
    traps: Counters,
    restarts: Counters,
    checkpoints: Counters,
    checkpoint_seconds: Histograms<ConnectorLabel>,
    stage_seconds: Histograms<StageLabels>,
    sink: SinkFamilies,
    /// The stage label sets made so far, to remove with their connector.
    stages_seen: std::sync::Arc<Mutex<HashSet<StageLabels>>>,
}

impl Default for ConnectorFamilies {
    fn default() -> Self {
        Self {
            read: Counters::default(),
            filtered_out: Counters::default(),
            delivered: Counters::default(),
            dead_lettered: Counters::default(),
            failed: Counters::default(),
            retries: Counters::default(),
            traps: Counters::default(),
            restarts: Counters::default(),
            checkpoints: Counters::default(),
            checkpoint_seconds: Histograms::new_with_constructor(buckets::store),
            stage_seconds: Histograms::new_with_constructor(buckets::stage_call),
            sink: SinkFamilies::default(),
            stages_seen: Default::default(),
        }
    }
}

impl ConnectorFamilies {
    pub fn register(&self, registry: &mut Registry) {
        let counters = [
            ("events_read", "Events read from the log by the connector's subscription, filtered out or not", &self.read),
            ("events_filtered_out", "Events the connector's filter or a transform stage dropped", &self.filtered_out),
            ("events_delivered", "Events the sink delivered", &self.delivered),
            ("events_dead_lettered", "Events written to the connector's dead-letter stream", &self.dead_lettered),
            ("events_failed", "Events a filter, a transform stage or the sink refused (then dead-lettered, or the connector faulted)", &self.failed),
            ("sink_retries", "Retries of a failed delivery (each wait before a new attempt)", &self.retries),
            ("component_traps", "Calls of the connector's WebAssembly components that trapped or broke a limit", &self.traps),
            ("component_instance_restarts", "WebAssembly component instances created again after a trap, a spent budget or their call limit", &self.restarts),
            ("checkpoints", "Checkpoints the connector wrote", &self.checkpoints),
        ];
        for (name, help, family) in counters {
            registry.register(name, help, family.clone());
        }
        registry.register_with_unit(
            "checkpoint_duration",
            "Time to write one checkpoint",
            Unit::Seconds,
            self.checkpoint_seconds.clone(),
        );
        registry.register_with_unit(
            "transform_duration",
            "Time a transform stage took over one batch",
            Unit::Seconds,
            self.stage_seconds.clone(),
        );
        self.sink.register(registry);
    }

    /// The handles of `connector`'s series, created now where missing.
    pub fn resolve(&self, connector: &str) -> ConnectorMetrics {
        let label = ConnectorLabel {
            connector: connector.to_owned(),
        };
        ConnectorMetrics {
            connector: connector.to_owned(),
            read: self.read.get_or_create_owned(&label),
            filtered_out: self.filtered_out.get_or_create_owned(&label),
            delivered: self.delivered.get_or_create_owned(&label),
            dead_lettered: self.dead_lettered.get_or_create_owned(&label),
            failed: self.failed.get_or_create_owned(&label),
            retries: self.retries.get_or_create_owned(&label),
            instances: InstanceCounters {
                traps: self.traps.get_or_create_owned(&label),
                restarts: self.restarts.get_or_create_owned(&label),
            },
            checkpoints: self.checkpoints.get_or_create_owned(&label),
            checkpoint_seconds: self.checkpoint_seconds.get_or_create_owned(&label),
            sink: self.sink.resolve(connector),
            families: self.clone(),
        }
    }

    /// Removes every series of `connector`.
    pub fn remove(&self, connector: &str) {
        let label = ConnectorLabel {
            connector: connector.to_owned(),
        };
        for family in [
            &self.read,
            &self.filtered_out,
            &self.delivered,
            &self.dead_lettered,
            &self.failed,
            &self.retries,
            &self.traps,
            &self.restarts,
            &self.checkpoints,
        ] {
            family.remove(&label);
        }
        self.checkpoint_seconds.remove(&label);
        self.sink.remove(connector);
        let mut seen = self.stages_seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|stage| {
            let theirs = stage.connector == connector;
            if theirs {
                self.stage_seconds.remove(stage);
            }
            !theirs
        });
    }

    fn stage(&self, connector: &str, stage: &str) -> Histogram {
        let labels = StageLabels {
            connector: connector.to_owned(),
            stage: stage.to_owned(),
        };
        let histogram = self.stage_seconds.get_or_create_owned(&labels);
        self.stages_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(labels);
        histogram
    }
}

/// What one connector's pipeline counts with: handles resolved once, so
/// counting is an atomic add.
#[derive(Clone)]
pub struct ConnectorMetrics {
    connector: String,
    pub read: Counter,
    pub filtered_out: Counter,
    pub delivered: Counter,
    pub dead_lettered: Counter,
    pub failed: Counter,
    pub retries: Counter,
    /// What the connector's component instances count.
    pub instances: InstanceCounters,
    pub checkpoints: Counter,
    pub checkpoint_seconds: Histogram,
    /// The sink's requests.
    pub sink: SinkMetrics,
    families: ConnectorFamilies,
}

/// Names the connector only.
impl std::fmt::Debug for ConnectorMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorMetrics")
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

impl ConnectorMetrics {
    /// Handles that count into series no registry shows (tests, benchmarks,
    /// previews).
    pub fn detached(connector: &str) -> Self {
        ConnectorFamilies::default().resolve(connector)
    }

    /// The timer of one transform stage, named as in the status.
    pub fn stage_timer(&self, stage: &str) -> StageTimer {
        StageTimer {
            seconds: self.families.stage(&self.connector, stage),
        }
    }
}

/// Times a transform stage's calls.
#[derive(Clone)]
pub struct StageTimer {
    seconds: Histogram,
}

impl StageTimer {
    /// A timer whose observations no registry shows.
    pub fn detached() -> Self {
        Self {
            seconds: buckets::stage_call(),
        }
    }

    /// Records one call that started at `started`.
    pub fn observe_since(&self, started: Instant) {
        self.seconds.observe(started.elapsed().as_secs_f64());
    }
}

/// What a connector's component instances count: traps (and broken
/// limits) and instances created again.
#[derive(Clone, Default)]
pub struct InstanceCounters {
    pub traps: Counter,
    pub restarts: Counter,
}
