//! Prometheus metrics: one registry per node, rendered by `GET /metrics`
//! in the OpenMetrics text format (which Prometheus scrapes natively).
//!
//! [`Metrics`] owns the registry and every family. Counting happens where
//! the work is done, through handles resolved once per connector when its
//! pipeline starts ([`ConnectorMetrics`], from [`Metrics::connector`]), so
//! the hot path never looks a label set up: a counter is an atomic add per
//! batch, a histogram one observation per request, call or checkpoint.
//! What is a state rather than an event (lag, caught-up, the cluster's
//! members, connectors per member) is read when the endpoint is scraped
//! ([`Metrics::refresh`] with a [`Snapshot`]).
//!
//! The files, one concern each: `labels` (the label sets), `connector`
//! (per-connector counters, histograms and their removal), `sink` (sink
//! requests by outcome and status class), `progress` (lag and caught-up,
//! set at scrape time), `node` (store latency, members, assignments, build
//! info), `buckets` (histogram bucket layouts). A connector's series are
//! removed when its pipeline stops on this member (disabled, deleted,
//! handed over: [`Metrics::remove_connector`]), so series do not grow
//! without bound; a pipeline started again counts from 0, as after a
//! restart of the node.

mod buckets;
mod connector;
mod labels;
mod node;
mod progress;
mod sink;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use prometheus_client::registry::Registry;

pub use connector::{ConnectorMetrics, InstanceCounters, StageTimer};
pub use labels::StoreOperation;
pub use node::StoreTimer;
pub use progress::{ConnectorProgress, Snapshot};
pub use sink::{RequestClass, RequestOutcome, SinkMetrics};

use connector::ConnectorFamilies;
use node::NodeFamilies;
use progress::ProgressFamilies;

/// The node's metrics: cheap to clone, shared by everything that counts.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    connectors: ConnectorFamilies,
    progress: ProgressFamilies,
    node: NodeFamilies,
    /// Held while the scrape-time gauges are set and the text rendered, so
    /// two scrapes at once do not see each other's half-set gauges.
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every family of the node registered, and the build
    /// info set.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("connectors");
        let connectors = ConnectorFamilies::default();
        connectors.register(&mut registry);
        let progress = ProgressFamilies::default();
        progress.register(&mut registry);
        let node = NodeFamilies::default();
        node.register(&mut registry);
        Self {
            inner: Arc::new(Inner {
                registry,
                connectors,
                progress,
                node,
                scrape: Mutex::new(()),
            }),
        }
    }

    /// The handles one connector's pipeline counts with, resolved now.
    pub fn connector(&self, connector: &str) -> ConnectorMetrics {
        self.inner.connectors.resolve(connector)
    }

    /// Removes every series of `connector` (its pipeline stopped here).
    pub fn remove_connector(&self, connector: &str) {
        self.inner.connectors.remove(connector);
        self.inner.progress.remove(connector);
    }

    /// Times one store operation (see [`StoreTimer`]).
    pub fn store_timer(&self, operation: StoreOperation) -> StoreTimer {
        self.inner.node.store_timer(operation)
    }

    /// Sets the scrape-time gauges from `snapshot` and renders every
    /// family as OpenMetrics text.
    pub fn render(&self, snapshot: &Snapshot) -> Result<String, std::fmt::Error> {
        let _one_at_a_time = self.inner.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.refresh(snapshot);
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)?;
        Ok(text)
    }

    /// Sets the gauges that describe a state rather than count events.
    fn refresh(&self, snapshot: &Snapshot) {
        self.inner.progress.set(&snapshot.connectors);
        self.inner.node.set_cluster(snapshot);
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
