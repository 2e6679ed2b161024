//! What the API shows about the cluster: where a connector runs (here,
//! on another member with the status that member last published, or
//! nowhere and why), and the members.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::time::Instant;
use uuid::Uuid;

use super::reconciler::Cluster;
use crate::connector::{ConnectorId, ConnectorState, MemberRole};
use crate::pipeline::StatusSnapshot;

/// Where a connector runs, as this member knows it.
#[derive(Debug, Clone)]
pub enum Whereabouts {
    /// It runs (or ran, or faulted) on this member.
    Here,
    /// Another live member holds it; the status it last published, with how
    /// long ago that arrived.
    Elsewhere {
        member: String,
        status: Option<(StatusSnapshot, Duration)>,
    },
    /// Enabled, but it runs nowhere yet: `reason` says why.
    Unassigned { reason: String },
    /// Not enabled, or not running anywhere for another reason.
    Idle,
}

/// A member as `GET /members` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    /// Its name (`--member`).
    pub member: String,
    /// The role of the database node it is attached to.
    pub role: MemberRole,
    /// Where its HTTP API listens.
    pub address: String,
    /// New every time its process starts.
    pub incarnation: Uuid,
    /// Whether it takes connectors (`--no-connectors` says no).
    pub runs_connectors: bool,
    /// Its last heartbeat arrived less than a lease ago and it is not
    /// leaving.
    pub alive: bool,
    /// It said it is stopping.
    pub leaving: bool,
    /// When it sent its last heartbeat, by its clock.
    pub last_heartbeat: DateTime<Utc>,
    /// How long ago its last heartbeat arrived here.
    pub age_ms: u64,
    /// What it runs, as its last heartbeat said; none once it is dead.
    #[schema(value_type = Vec<String>)]
    pub connectors: Vec<ConnectorId>,
}

impl Cluster {
    /// Where `connector` runs.
    pub fn whereabouts(&self, connector: &ConnectorState) -> Whereabouts {
        let running_here = self
            .supervisor
            .running(&connector.id)
            .is_some_and(|run| !run.finished || run.faulted);
        if !connector.should_run() {
            return Whereabouts::Idle;
        }
        if running_here {
            return Whereabouts::Here;
        }
        let now = Instant::now();
        let alive_here = self.lease.term().is_some();
        let me = self.me();
        let view = self.view();
        if let Some(owner) = view.owners.get(&connector.id) {
            if let Some((name, _)) = owner.holder() {
                if name != self.me.name && view.holder_alive(&me, alive_here, owner, now) {
                    let status = view.members.get(name).and_then(|entry| {
                        let published = entry.statuses.get(&connector.id)?.clone();
                        let age = now.saturating_duration_since(entry.statuses_seen?);
                        Some((published, age))
                    });
                    return Whereabouts::Elsewhere {
                        member: name.to_owned(),
                        status,
                    };
                }
                if name != self.me.name {
                    return Whereabouts::Unassigned {
                        reason: format!(
                            "its member `{name}` stopped heartbeating; it moves to another \
                             member once that member's lease ({} ms) has run out",
                            self.config.lease.as_millis()
                        ),
                    };
                }
            }
        }
        let candidates = view.candidates(&me, alive_here, now);
        let affinity = connector.definition.affinity;
        if candidates.iter().any(|c| affinity.admits(c.role)) {
            return Whereabouts::Unassigned {
                reason: "being placed on a member".into(),
            };
        }
        let live: Vec<String> = candidates
            .iter()
            .map(|c| format!("`{}` ({})", c.name, c.role))
            .collect();
        Whereabouts::Unassigned {
            reason: format!(
                "no live member may run it: its affinity is `{}`, and the members that run \
                 connectors are {}; it starts when such a member joins, or set `\"affinity\": \
                 \"any\"`",
                affinity.as_str(),
                if live.is_empty() {
                    "none".to_owned()
                } else {
                    live.join(", ")
                }
            ),
        }
    }

    /// The member's name.
    pub fn member(&self) -> &str {
        &self.me.name
    }

    /// Every member heard from, by name.
    pub fn members(&self) -> Vec<MemberView> {
        let now = Instant::now();
        let view = self.view();
        view.members
            .entries()
            .map(|entry| {
                let heartbeat = &entry.heartbeat;
                let alive = entry.is_alive(now, self.config.lease);
                MemberView {
                    member: heartbeat.member.clone(),
                    role: heartbeat.role,
                    address: heartbeat.address.clone(),
                    incarnation: heartbeat.incarnation,
                    runs_connectors: heartbeat.runs_connectors,
                    alive,
                    leaving: heartbeat.leaving,
                    last_heartbeat: heartbeat.at,
                    age_ms: now.saturating_duration_since(entry.seen).as_millis() as u64,
                    // A dead member runs nothing, whatever it said last.
                    connectors: if alive {
                        heartbeat.connectors.clone()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect()
    }
}
