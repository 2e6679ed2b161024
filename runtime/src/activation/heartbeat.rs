//! This member's periodic work. Its heartbeats: one every heartbeat
//! interval into `$connectors-members`, each renewing the lease once
//! stored. Every [`STATUS_EVERY`]th heartbeat also carries the statuses of
//! the connectors running here, so other members can show them (with their
//! age) without the stream growing by a status per connector per second.
//! And, for a member whose role can change, asking for it again every
//! [`ROLE_REFRESH`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::Utc;
use tokio::time::Instant;

use super::members::{Heartbeat, MEMBERS_STREAM};
use super::reconciler::Cluster;
use super::role::{RoleSource, ROLE_REFRESH};
use crate::store::{ExpectedRevision, StoreError};

/// One heartbeat in this many carries the statuses.
pub const STATUS_EVERY: u64 = 5;

impl Cluster {
    /// Heartbeats until the member leaves.
    pub(super) async fn heartbeats(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut failing = false;
        loop {
            tokio::select! {
                _ = self.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.send_heartbeat(false).await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("heartbeats are stored again");
                }
                Ok(()) => {}
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "could not store a heartbeat; this member stops delivering if its lease runs out");
                }
                Err(_) => {}
            }
        }
    }

    /// Stores one heartbeat; a stored one (unless `leaving`) renews the
    /// lease from when it was sent.
    pub(super) async fn send_heartbeat(&self, leaving: bool) -> Result<(), StoreError> {
        let beat = self.beats.fetch_add(1, Ordering::Relaxed);
        let statuses = (beat.is_multiple_of(STATUS_EVERY) && !leaving)
            .then(|| self.supervisor.running_statuses());
        let heartbeat = Heartbeat {
            member: self.me.name.clone(),
            incarnation: self.me.incarnation,
            role: self.role(),
            address: self.config.address.clone(),
            runs_connectors: self.me.runs_connectors,
            leaving,
            at: Utc::now(),
            connectors: if leaving {
                Vec::new()
            } else {
                self.supervisor.running_ids()
            },
            statuses,
        };
        let term_before = self.lease.term();
        let sent = Instant::now();
        self.repository
            .store()
            .append(
                MEMBERS_STREAM,
                ExpectedRevision::Any,
                vec![heartbeat.to_new_event()],
            )
            .await?;
        if !leaving {
            self.lease.renewed(sent);
            if self.lease.term() != term_before {
                self.wake();
            }
        }
        Ok(())
    }

    /// Asks `source` for this member's role every [`ROLE_REFRESH`] until
    /// the member leaves; a failed look-up keeps the role it had.
    pub(super) async fn follow_role(self: Arc<Self>, source: RoleSource) {
        let mut failing = false;
        loop {
            tokio::select! {
                _ = self.cancelled() => return,
                _ = tokio::time::sleep(ROLE_REFRESH) => {}
            }
            match source.lookup().await {
                Ok(role) => {
                    failing = false;
                    let previous = self.set_role(role);
                    if previous != role {
                        tracing::info!(from = %previous, to = %role, "this member's role changed");
                        self.wake();
                    }
                }
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "cannot read this member's role; keeping the one it has");
                }
                Err(_) => {}
            }
        }
    }
}
