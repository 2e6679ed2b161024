//! One replay of a connector's dead letters at a time, on this node.
//!
//! Two replays of one connector running at once would deliver the same
//! letters twice and record their outcomes twice, so a replay first takes
//! its connector's place in [`ReplayLocks`]; a second replay of that
//! connector is refused with [`ReplayRunning`] at once (it does not wait),
//! while replays of other connectors go on. The place is held by a
//! [`ReplayGuard`] and given back when the guard is dropped: however the
//! replay ends (its answer, an error, or the client going away, which
//! drops the request).
//!
//! The lock lives in this process only: it keeps out replays that reach
//! the same node, not replays sent to two members of a cluster at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::connector::ConnectorId;

/// The connectors whose dead letters are being replayed on this node.
/// Clones share the same set.
#[derive(Debug, Clone, Default)]
pub struct ReplayLocks {
    running: Arc<Mutex<HashSet<ConnectorId>>>,
}

/// Why a replay may not start now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the dead letters of connector `{0}` are already being replayed on this node; retry when \
     that replay ends"
)]
pub struct ReplayRunning(pub ConnectorId);

/// The place of one running replay; dropping it ends the replay's hold.
#[derive(Debug)]
#[must_use = "the replay's place is given back as soon as the guard is dropped"]
pub struct ReplayGuard {
    locks: ReplayLocks,
    connector: ConnectorId,
}

impl ReplayLocks {
    /// Takes `connector`'s place for a replay, or says that one runs.
    pub fn try_begin(&self, connector: &ConnectorId) -> Result<ReplayGuard, ReplayRunning> {
        if !self.running().insert(connector.clone()) {
            return Err(ReplayRunning(connector.clone()));
        }
        Ok(ReplayGuard {
            locks: self.clone(),
            connector: connector.clone(),
        })
    }

    /// Whether a replay of `connector` is running.
    #[cfg(test)]
    pub fn is_running(&self, connector: &ConnectorId) -> bool {
        self.running().contains(connector)
    }

    /// The set; a panic while it was held cannot leave it inconsistent
    /// (each change is one insert or remove), so a poisoned lock is used
    /// as is.
    fn running(&self) -> MutexGuard<'_, HashSet<ConnectorId>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for ReplayGuard {
    fn drop(&mut self) {
        self.locks.running().remove(&self.connector);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> ConnectorId {
        ConnectorId::parse(name).expect("id")
    }

    #[test]
    fn a_second_replay_of_a_connector_is_refused_while_the_first_runs() {
        let locks = ReplayLocks::default();
        let first = locks.try_begin(&id("hook")).expect("first");
        let refused = locks.try_begin(&id("hook")).expect_err("second");
        assert_eq!(refused, ReplayRunning(id("hook")));
        assert!(refused.to_string().contains("`hook`"), "{refused}");
        assert!(refused.to_string().contains("retry"), "{refused}");
        drop(first);
        assert!(!locks.is_running(&id("hook")));
        let _again = locks.try_begin(&id("hook")).expect("after the first ended");
    }

    #[test]
    fn replays_of_other_connectors_go_on() {
        let locks = ReplayLocks::default();
        let _hook = locks.try_begin(&id("hook")).expect("hook");
        let _other = locks.try_begin(&id("other")).expect("other");
        assert!(locks.is_running(&id("hook")) && locks.is_running(&id("other")));
    }

    #[test]
    fn clones_share_the_running_replays() {
        let locks = ReplayLocks::default();
        let _hook = locks.clone().try_begin(&id("hook")).expect("hook");
        assert!(locks.try_begin(&id("hook")).is_err());
    }

    #[tokio::test]
    async fn a_replay_dropped_midway_gives_its_place_back() {
        let locks = ReplayLocks::default();
        let (started, wait_started) = tokio::sync::oneshot::channel();
        let replay = tokio::spawn({
            let locks = locks.clone();
            async move {
                let _guard = locks.try_begin(&id("hook")).expect("place");
                let _ = started.send(());
                std::future::pending::<()>().await;
            }
        });
        wait_started.await.expect("the replay started");
        assert!(locks.is_running(&id("hook")));
        // As when the client goes away: the request's future is dropped.
        replay.abort();
        assert!(replay.await.expect_err("aborted").is_cancelled());
        assert!(!locks.is_running(&id("hook")));
    }
}
