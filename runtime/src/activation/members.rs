//! Membership: every member appends a [`Heartbeat`] to `$connectors-members`
//! every heartbeat interval, and every member follows that stream to know
//! who is alive.
//!
//! A member is alive while its last heartbeat was received less than a lease
//! ago, by the receiver's own clock ([`Members::record`] stamps each with
//! the moment it arrived), and it did not say it is leaving. One name, one
//! member: a heartbeat from a new incarnation of a name (the process started
//! again) replaces the old one, whose ownerships are then void.
//!
//! The stream keeps its last [`HEARTBEATS_KEPT`] events and none older than
//! [`HEARTBEATS_MAX_AGE`], so it stays small however long the cluster runs.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use uuid::Uuid;

use crate::connector::{ConnectorId, MemberRole};
use crate::pipeline::StatusSnapshot;
use crate::store::{
    Direction, EventStore, NewEvent, RecordedEvent, StoreError, StreamMetadata, StreamStart,
};

/// The stream of heartbeats.
pub const MEMBERS_STREAM: &str = "$connectors-members";
/// The type of a heartbeat event.
pub const HEARTBEAT_EVENT: &str = "$MemberHeartbeat";
/// How many heartbeats the stream keeps.
pub const HEARTBEATS_KEPT: u64 = 1000;
/// How long the stream keeps a heartbeat.
pub const HEARTBEATS_MAX_AGE: Duration = Duration::from_secs(3600);

/// What a member says about itself, every heartbeat interval.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub member: String,
    /// New every time the process starts.
    pub incarnation: Uuid,
    pub role: MemberRole,
    /// Where its HTTP API listens.
    pub address: String,
    /// Whether it takes connectors (`--no-connectors` says no).
    pub runs_connectors: bool,
    /// Its last heartbeat before a graceful stop.
    #[serde(default)]
    pub leaving: bool,
    /// When it was sent, by the sender's clock (shown, never compared).
    pub at: DateTime<Utc>,
    /// The connectors it runs.
    #[serde(default)]
    pub connectors: Vec<ConnectorId>,
    /// Their statuses; sent with every few heartbeats only, to keep the
    /// stream light.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<BTreeMap<ConnectorId, StatusSnapshot>>,
}

impl Heartbeat {
    pub fn to_new_event(&self) -> NewEvent {
        NewEvent::json(HEARTBEAT_EVENT, self)
    }

    /// The heartbeat in `event`, if it is one.
    pub fn from_recorded(event: &RecordedEvent) -> Option<Self> {
        (event.stream == MEMBERS_STREAM && event.event_type == HEARTBEAT_EVENT)
            .then(|| serde_json::from_slice(&event.data).ok())
            .flatten()
    }
}

/// A member as last heard from.
#[derive(Debug, Clone)]
pub struct MemberEntry {
    pub heartbeat: Heartbeat,
    /// When its last heartbeat arrived here.
    pub seen: Instant,
    /// The statuses it last published, and when they arrived.
    pub statuses: BTreeMap<ConnectorId, StatusSnapshot>,
    pub statuses_seen: Option<Instant>,
}

/// Every member heard from, by name.
#[derive(Debug, Default)]
pub struct Members {
    entries: BTreeMap<String, MemberEntry>,
}

impl Members {
    /// Takes in a heartbeat that arrived at `seen`.
    pub fn record(&mut self, heartbeat: Heartbeat, seen: Instant) {
        let previous = self.entries.remove(&heartbeat.member);
        let (mut statuses, mut statuses_seen) = match previous {
            Some(p) if p.heartbeat.incarnation == heartbeat.incarnation => {
                (p.statuses, p.statuses_seen)
            }
            _ => (BTreeMap::new(), None),
        };
        let mut heartbeat = heartbeat;
        if let Some(published) = heartbeat.statuses.take() {
            statuses = published;
            statuses_seen = Some(seen);
        }
        // A connector it no longer runs has no status from it.
        statuses.retain(|id, _| heartbeat.connectors.contains(id));
        self.entries.insert(
            heartbeat.member.clone(),
            MemberEntry {
                heartbeat,
                seen,
                statuses,
                statuses_seen,
            },
        );
    }

    pub fn get(&self, member: &str) -> Option<&MemberEntry> {
        self.entries.get(member)
    }

    /// Every member heard from, by name.
    pub fn entries(&self) -> impl Iterator<Item = &MemberEntry> {
        self.entries.values()
    }

    /// Whether the member of that name and incarnation is alive at `now`.
    pub fn is_alive(&self, member: &str, incarnation: Uuid, now: Instant, lease: Duration) -> bool {
        self.entries
            .get(member)
            .is_some_and(|e| e.heartbeat.incarnation == incarnation && e.is_alive(now, lease))
    }

    /// Reads the heartbeats of the last `lease`-ish from the stream, to know
    /// who is alive before any heartbeat arrives live. The age of each is
    /// taken from the store's timestamp against this machine's clock (the
    /// one place clocks are compared); a member whose heartbeat looks fresh
    /// is taken as alive until a full lease without news.
    pub async fn load(store: &dyn EventStore, lease: Duration) -> Result<Self, StoreError> {
        let mut members = Self::default();
        let events = match store
            .read_stream(MEMBERS_STREAM, Direction::Backwards, StreamStart::End, 500)
            .await
        {
            Ok(events) => events,
            Err(StoreError::StreamNotFound(_)) => return Ok(members),
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        let wall_now = Utc::now();
        // Oldest first, so the newest heartbeat of each member wins.
        for event in events.iter().rev() {
            let Some(heartbeat) = Heartbeat::from_recorded(event) else {
                continue;
            };
            let age = (wall_now - event.created)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(lease);
            members.record(heartbeat, now.checked_sub(age).unwrap_or(now));
        }
        Ok(members)
    }

    /// Keeps the stream bounded: `$maxCount` and `$maxAge`.
    pub async fn bound_stream(store: &dyn EventStore) -> Result<(), StoreError> {
        let bounded = StreamMetadata {
            max_count: Some(HEARTBEATS_KEPT),
            max_age: Some(HEARTBEATS_MAX_AGE.as_secs()),
            ..StreamMetadata::default()
        };
        if store.stream_metadata(MEMBERS_STREAM).await?.as_ref() == Some(&bounded) {
            return Ok(());
        }
        store.set_stream_metadata(MEMBERS_STREAM, bounded).await
    }
}

impl MemberEntry {
    /// Heard from within the lease, and not leaving.
    pub fn is_alive(&self, now: Instant, lease: Duration) -> bool {
        !self.heartbeat.leaving && now.saturating_duration_since(self.seen) < lease
    }
}

/// A leader's heartbeat with no connectors, for tests.
#[cfg(test)]
pub(super) fn heartbeat(member: &str, incarnation: Uuid) -> Heartbeat {
    Heartbeat {
        member: member.into(),
        incarnation,
        role: MemberRole::Leader,
        address: "http://127.0.0.1:1".into(),
        runs_connectors: true,
        leaving: false,
        at: Utc::now(),
        connectors: Vec::new(),
        statuses: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_member_is_alive_for_a_lease_after_its_last_heartbeat() {
        let lease = Duration::from_secs(5);
        let mut members = Members::default();
        let a = Uuid::new_v4();
        members.record(heartbeat("a", a), Instant::now());
        assert!(members.is_alive("a", a, Instant::now(), lease));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(!members.is_alive("a", a, Instant::now(), lease));
        assert!(!members.is_alive("b", a, Instant::now(), lease));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_incarnation_voids_the_old_and_leaving_is_not_alive() {
        let lease = Duration::from_secs(5);
        let mut members = Members::default();
        let (old, new) = (Uuid::new_v4(), Uuid::new_v4());
        members.record(heartbeat("a", old), Instant::now());
        members.record(heartbeat("a", new), Instant::now());
        assert!(!members.is_alive("a", old, Instant::now(), lease));
        assert!(members.is_alive("a", new, Instant::now(), lease));
        let mut last = heartbeat("a", new);
        last.leaving = true;
        members.record(last, Instant::now());
        assert!(!members.is_alive("a", new, Instant::now(), lease));
    }
}
