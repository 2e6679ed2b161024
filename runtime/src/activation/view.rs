//! What a member knows of the cluster: the connectors, their owners and the
//! members, as read at start and kept up to date from the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::assignment::{assign, Candidate, Placement};
use super::members::Members;
use super::ownership::{Owner, Ownership};
use crate::connector::{
    CommandError, ConnectorId, ConnectorRepository, ConnectorState, MemberRole,
};
use crate::store::EventStore;

/// A connector as the member knows it.
#[derive(Debug, Clone)]
pub enum Known {
    Readable(Box<ConnectorState>),
    /// Its events do not decode: it runs nowhere.
    Unreadable,
}

/// This member, as the view needs it.
#[derive(Debug, Clone)]
pub struct Me {
    pub name: String,
    pub incarnation: Uuid,
    pub role: MemberRole,
    pub runs_connectors: bool,
    pub lease: Duration,
}

/// Everything known, under one lock.
#[derive(Debug, Default)]
pub struct View {
    pub members: Members,
    pub owners: HashMap<ConnectorId, Owner>,
    pub connectors: BTreeMap<ConnectorId, Known>,
    /// Claims this process made: the epoch, and the lease term it was made in.
    pub claims: HashMap<ConnectorId, (u64, u64)>,
    /// Connectors with an action in progress here.
    pub busy: HashSet<ConnectorId>,
    /// Connectors whose state could not be loaded and must be read again.
    pub stale: HashSet<ConnectorId>,
}

impl View {
    /// Takes in an owner record unless a newer one is known.
    pub fn take_owner(&mut self, id: ConnectorId, owner: Owner) {
        let newer = self
            .owners
            .get(&id)
            .is_none_or(|known| owner.revision > known.revision);
        if newer {
            self.owners.insert(id, owner);
        }
    }

    /// Whether the member `name` of `incarnation` is alive; this member is
    /// while it holds its lease (`alive_here`).
    pub fn holder_alive(&self, me: &Me, alive_here: bool, owner: &Owner, now: Instant) -> bool {
        match owner.holder() {
            None => false,
            Some((name, incarnation)) if name == me.name => {
                incarnation == me.incarnation && alive_here
            }
            Some((name, incarnation)) => self.members.is_alive(name, incarnation, now, me.lease),
        }
    }

    /// The live members that take connectors, this one included while it
    /// holds its lease.
    pub fn candidates(&self, me: &Me, alive_here: bool, now: Instant) -> Vec<Candidate> {
        let mut candidates: Vec<Candidate> = self
            .members
            .entries()
            .filter(|e| e.heartbeat.member != me.name)
            .filter(|e| e.heartbeat.runs_connectors && e.is_alive(now, me.lease))
            .map(|e| Candidate {
                name: e.heartbeat.member.clone(),
                role: e.heartbeat.role,
            })
            .collect();
        if alive_here && me.runs_connectors {
            candidates.push(Candidate {
                name: me.name.clone(),
                role: me.role,
            });
        }
        candidates
    }

    /// Where every enabled connector should run.
    pub fn assignment(
        &self,
        me: &Me,
        alive_here: bool,
        now: Instant,
    ) -> BTreeMap<ConnectorId, Option<String>> {
        let placements: Vec<Placement> = self
            .connectors
            .iter()
            .filter_map(|(id, known)| match known {
                Known::Readable(state) if state.should_run() => Some(Placement {
                    id: id.clone(),
                    affinity: state.definition.affinity,
                    owner: self
                        .owners
                        .get(id)
                        .filter(|o| self.holder_alive(me, alive_here, o, now))
                        .map(|o| o.member.clone()),
                }),
                _ => None,
            })
            .collect();
        assign(&placements, &self.candidates(me, alive_here, now))
    }
}

impl View {
    /// Everything the member needs to know when it joins: who is alive,
    /// every connector and its owner.
    pub async fn load(
        repository: &ConnectorRepository,
        lease: Duration,
    ) -> Result<Self, CommandError> {
        let store: &dyn EventStore = repository.store().as_ref();
        let members = Members::load(store, lease).await?;
        let listing = repository.list().await?;
        let ownership = Ownership { store };
        let mut view = View {
            members,
            ..View::default()
        };
        for connector in listing.connectors {
            if let Some(owner) = ownership.current(&connector.id).await? {
                view.owners.insert(connector.id.clone(), owner);
            }
            view.connectors
                .insert(connector.id.clone(), Known::Readable(Box::new(connector)));
        }
        for unreadable in listing.unreadable {
            tracing::error!(connector = %unreadable.id, reason = %unreadable.reason, "connector cannot be read and does not run");
            view.connectors.insert(unreadable.id, Known::Unreadable);
        }
        Ok(view)
    }
}
