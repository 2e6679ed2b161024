//! The node's own series: store latency by operation, the cluster's
//! members and the connectors each runs, and what was built.

use std::time::Instant;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use super::buckets;
use super::labels::{BuildLabels, MemberLabel, MemberStatusLabel, StoreLabels, StoreOperation};
use super::progress::Snapshot;

#[derive(Clone)]
pub(super) struct NodeFamilies {
    store_seconds: Family<StoreLabels, Histogram, fn() -> Histogram>,
    members: Family<MemberStatusLabel, Gauge>,
    member_connectors: Family<MemberLabel, Gauge>,
}

impl Default for NodeFamilies {
    fn default() -> Self {
        Self {
            store_seconds: Family::new_with_constructor(buckets::store),
            members: Family::default(),
            member_connectors: Family::default(),
        }
    }
}

impl NodeFamilies {
    pub fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "store_operation_duration",
            "Time of the node's calls to the event store, by operation (append, read_stream, read_all)",
            Unit::Seconds,
            self.store_seconds.clone(),
        );
        registry.register(
            "cluster_members",
            "Members of the cluster heard from, by status (alive, dead)",
            self.members.clone(),
        );
        registry.register(
            "member_connectors",
            "Connectors each alive member runs, as its last heartbeat said",
            self.member_connectors.clone(),
        );
        registry.register(
            "build",
            "What this node runs",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
    }

    pub fn store_timer(&self, operation: StoreOperation) -> StoreTimer {
        StoreTimer {
            seconds: self.store_seconds.get_or_create_owned(&StoreLabels {
                operation: operation.name(),
            }),
        }
    }

    pub fn set_cluster(&self, snapshot: &Snapshot) {
        let alive = snapshot
            .members
            .iter()
            .filter(|(_, alive, _)| *alive)
            .count();
        let dead = snapshot.members.len() - alive;
        for (status, count) in [("alive", alive), ("dead", dead)] {
            self.members
                .get_or_create(&MemberStatusLabel { status })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        self.member_connectors.clear();
        for (member, alive, connectors) in &snapshot.members {
            if *alive {
                self.member_connectors
                    .get_or_create(&MemberLabel {
                        member: member.clone(),
                    })
                    .set(i64::try_from(*connectors).unwrap_or(i64::MAX));
            }
        }
    }
}

/// Times one kind of store operation.
#[derive(Clone)]
pub struct StoreTimer {
    seconds: Histogram,
}

impl StoreTimer {
    /// Records one operation that started at `started`.
    pub fn observe_since(&self, started: Instant) {
        self.seconds.observe(started.elapsed().as_secs_f64());
    }
}
