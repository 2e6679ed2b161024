//! How far each running connector is behind the log's head, and whether it
//! has caught up: states, set when the endpoint is scraped from the
//! connectors' statuses (a [`Snapshot`]), never counted on the hot path.
//! A connector that does not run on this member has no such series; a lag
//! that cannot be known (no head position) is left out, not guessed.

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::labels::ConnectorLabel;

/// One running connector's progress, as of a scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorProgress {
    pub connector: String,
    /// How far the log's head is past the connector's position, in log
    /// positions; `None` when the head is not known.
    pub positions_behind: Option<u64>,
    /// Everything up to the head was delivered, and nothing is retried.
    pub caught_up: bool,
}

/// What the scrape-time gauges are set from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The connectors running on this member.
    pub connectors: Vec<ConnectorProgress>,
    /// The members heard from: `(name, alive, connectors it runs)`.
    pub members: Vec<(String, bool, usize)>,
}

#[derive(Clone, Default)]
pub(super) struct ProgressFamilies {
    positions_behind: Family<ConnectorLabel, Gauge>,
    caught_up: Family<ConnectorLabel, Gauge>,
}

impl ProgressFamilies {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "lag_positions",
            "How far the log's head is past the connector's position, in log positions (where the head is known)",
            self.positions_behind.clone(),
        );
        registry.register(
            "caught_up",
            "1 when everything up to the log's head was delivered and no delivery is being retried, else 0",
            self.caught_up.clone(),
        );
    }

    /// Replaces every series with those of `connectors`.
    pub fn set(&self, connectors: &[ConnectorProgress]) {
        self.positions_behind.clear();
        self.caught_up.clear();
        for progress in connectors {
            let label = ConnectorLabel {
                connector: progress.connector.clone(),
            };
            if let Some(behind) = progress.positions_behind {
                self.positions_behind
                    .get_or_create(&label)
                    .set(i64::try_from(behind).unwrap_or(i64::MAX));
            }
            self.caught_up
                .get_or_create(&label)
                .set(i64::from(progress.caught_up));
        }
    }

    pub fn remove(&self, connector: &str) {
        let label = ConnectorLabel {
            connector: connector.to_owned(),
        };
        self.positions_behind.remove(&label);
        self.caught_up.remove(&label);
    }
}
