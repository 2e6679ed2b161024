//! How this member takes part in the cluster: its name and role, whether it
//! runs connectors, and its heartbeat and lease.

use std::time::Duration;

use super::role::RoleSource;
use crate::connector::MemberRole;

/// The default time between two heartbeats.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(1000);
/// The default lease: a member not heard from for this long is dead.
pub const DEFAULT_LEASE: Duration = Duration::from_millis(5000);

/// How this member takes part in the cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Its name, unique in the cluster.
    pub member: String,
    /// Its role at start.
    pub role: MemberRole,
    /// Where to ask for its role again (a sidecar's node may be elected
    /// or step down); `None` when it is fixed.
    pub role_source: Option<RoleSource>,
    /// Whether it takes connectors.
    pub runs_connectors: bool,
    pub heartbeat: Duration,
    pub lease: Duration,
    /// Where its HTTP API listens, as others should reach it.
    pub address: String,
}

/// A setting the cluster cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterConfigError {
    #[error(
        "the member name `{0}` must be 1 to 100 printable ASCII characters without spaces \
         (it is sent in the `esdb-connector-member` header), e.g. `--member node-1`"
    )]
    MemberName(String),
    #[error(
        "the lease ({lease_ms} ms) must be at least three heartbeats ({heartbeat_ms} ms each): \
         a member that misses one heartbeat must not lose its connectors; e.g. \
         `--heartbeat-ms 1000 --lease-ms 5000`"
    )]
    LeaseTooShort { lease_ms: u128, heartbeat_ms: u128 },
    #[error("the heartbeat must be between 50 and 60000 ms, e.g. `--heartbeat-ms 1000`")]
    Heartbeat,
}

impl ClusterConfig {
    /// A member named `member` with the default heartbeat and lease.
    pub fn new(member: impl Into<String>, role: MemberRole, address: impl Into<String>) -> Self {
        Self {
            member: member.into(),
            role,
            role_source: None,
            runs_connectors: true,
            heartbeat: DEFAULT_HEARTBEAT,
            lease: DEFAULT_LEASE,
            address: address.into(),
        }
    }

    pub fn validate(&self) -> Result<(), ClusterConfigError> {
        let printable = |c: char| c.is_ascii_graphic();
        if self.member.is_empty() || self.member.len() > 100 || !self.member.chars().all(printable)
        {
            return Err(ClusterConfigError::MemberName(self.member.clone()));
        }
        if !(50..=60_000).contains(&self.heartbeat.as_millis()) {
            return Err(ClusterConfigError::Heartbeat);
        }
        if self.lease < self.heartbeat * 3 {
            return Err(ClusterConfigError::LeaseTooShort {
                lease_ms: self.lease.as_millis(),
                heartbeat_ms: self.heartbeat.as_millis(),
            });
        }
        Ok(())
    }

    /// How long after sending its last stored heartbeat this member goes on
    /// delivering: the lease less a margin of two heartbeats (at least a
    /// fifth of the lease), so it has stopped before others count it dead.
    pub fn fence_after(&self) -> Duration {
        let margin = (self.heartbeat * 2).max(self.lease / 5);
        self.lease.saturating_sub(margin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_stops_well_before_the_others_count_it_dead() {
        let config = ClusterConfig::new("m", MemberRole::Leader, "http://127.0.0.1:2119");
        assert!(config.validate().is_ok());
        assert_eq!(config.fence_after(), Duration::from_millis(3000));
        let mut short = config.clone();
        short.lease = Duration::from_millis(2500);
        assert!(matches!(
            short.validate(),
            Err(ClusterConfigError::LeaseTooShort { .. })
        ));
        let mut named = config;
        named.member = "two words".into();
        assert!(matches!(
            named.validate(),
            Err(ClusterConfigError::MemberName(_))
        ));
    }
}
