//! What this member must do so that what runs here matches what should:
//! a pure function of the [`View`], the lease term and the pipelines that
//! run here, so every rule is tested without a store.
//!
//! - A pipeline runs only under the connector's current claim, made by this
//!   process in the current lease term; otherwise it stops (taken over, or
//!   the lease lapsed).
//! - A connector disabled, deleted or unreadable stops.
//! - A connector that should run elsewhere is stopped, checkpointed and then
//!   released, so the member it goes to starts after this one stopped.
//! - A connector that should run here is claimed (when it has no live
//!   holder, or its holder is this member from an earlier term) and
//!   started; one that a live member holds is waited for until released.
//! - A faulted pipeline stays faulted (and stays here) until the connector
//!   changes (an enable, a reconfiguration, a reset).

use std::collections::HashMap;

use tokio::time::Instant;

use super::ownership::Owner;
use super::supervisor::RunInfo;
use super::view::{Known, Me, View};
use crate::connector::{ConnectorId, ConnectorState};

/// One thing to do for one connector.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start (or restart) the pipeline under the claim of `epoch`.
    Start {
        state: Box<ConnectorState>,
        epoch: u64,
    },
    /// Claim the connector (the owner stream is at `after`), then start it.
    Claim {
        state: Box<ConnectorState>,
        after: Option<Owner>,
    },
    /// Stop the pipeline: `graceful` checkpoints; `forget` drops its
    /// status and its streams (deleted).
    Stop {
        id: ConnectorId,
        graceful: bool,
        forget: bool,
    },
    /// Stop the pipeline if one runs, checkpointing, then release the claim.
    Release { id: ConnectorId, owner: Owner },
}

impl Action {
    pub fn connector(&self) -> &ConnectorId {
        match self {
            Action::Start { state, .. } | Action::Claim { state, .. } => &state.id,
            Action::Stop { id, .. } | Action::Release { id, .. } => id,
        }
    }
}

/// The actions that bring this member in line, for connectors not busy.
pub fn decide(
    view: &View,
    me: &Me,
    term: Option<u64>,
    runs: &HashMap<ConnectorId, RunInfo>,
    now: Instant,
) -> Vec<Action> {
    let alive_here = term.is_some();
    let assignment = view.assignment(me, alive_here, now);
    let mut ids: Vec<&ConnectorId> = view.connectors.keys().chain(runs.keys()).collect();
    ids.sort();
    ids.dedup();
    let mut actions = Vec::new();
    for id in ids {
        if view.busy.contains(id) {
            continue;
        }
        let run = runs.get(id);
        let owner = view.owners.get(id);
        let mine = owner.filter(|o| o.holder() == Some((me.name.as_str(), me.incarnation)));
        let state = match view.connectors.get(id) {
            Some(Known::Readable(state)) if state.should_run() => state,
            known => {
                if run.is_some() {
                    let forget =
                        known.is_none() || matches!(known, Some(Known::Readable(s)) if s.deleted);
                    actions.push(Action::Stop {
                        id: id.clone(),
                        graceful: true,
                        forget,
                    });
                }
                continue;
            }
        };
        let target = assignment.get(id).cloned().flatten();
        let here = target.as_deref() == Some(me.name.as_str());
        let claimed_now =
            |owner: &Owner| term.is_some_and(|t| view.claims.get(id) == Some(&(owner.revision, t)));
        if let Some(run) = run {
            let current = mine.filter(|o| o.revision == run.key.epoch && claimed_now(o));
            let Some(owner) = current else {
                // Taken over, or the lease lapsed: it may not deliver.
                actions.push(Action::Stop {
                    id: id.clone(),
                    graceful: false,
                    forget: false,
                });
                continue;
            };
            if run.faulted && run.key.revision == state.pipeline_revision {
                continue;
            }
            if !here && target.is_some() {
                actions.push(Action::Release {
                    id: id.clone(),
                    owner: owner.clone(),
                });
            } else if run.finished || run.key.revision != state.pipeline_revision {
                actions.push(Action::Start {
                    state: state.clone(),
                    epoch: owner.revision,
                });
            }
            continue;
        }
        if !here {
            // Held here, but another member should run it: let it go.
            if let (Some(owner), Some(_)) = (mine, target.as_ref()) {
                actions.push(Action::Release {
                    id: id.clone(),
                    owner: owner.clone(),
                });
            }
            continue;
        }
        match owner {
            Some(o) if mine.is_some() && claimed_now(o) => actions.push(Action::Start {
                state: state.clone(),
                epoch: o.revision,
            }),
            Some(o) if view.holder_alive(me, alive_here, o, now) && mine.is_none() => {
                // Another live member holds it: it releases it first.
            }
            _ => actions.push(Action::Claim {
                state: state.clone(),
                after: owner.cloned(),
            }),
        }
    }
    actions
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
