//! Where a connector may run: its `affinity`, matched against the role of
//! each member (the role of the KurrentDB node the member is attached to).

use serde::{Deserialize, Serialize};

/// The role of a member: the role of the database node it is attached to
/// (an embedded node is a leader), or the one it was given with `--role`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum MemberRole {
    Leader,
    Follower,
    ReadonlyReplica,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Leader => "leader",
            MemberRole::Follower => "follower",
            MemberRole::ReadonlyReplica => "readonly-replica",
        }
    }
}

impl std::fmt::Display for MemberRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which members may run a connector: those of one role, or any member.
/// The default, `leader`, is KurrentDB's connectors' own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Affinity {
    #[default]
    Leader,
    Follower,
    ReadonlyReplica,
    Any,
}

impl Affinity {
    /// Whether a member of `role` may run the connector.
    pub fn admits(self, role: MemberRole) -> bool {
        match self {
            Affinity::Any => true,
            Affinity::Leader => role == MemberRole::Leader,
            Affinity::Follower => role == MemberRole::Follower,
            Affinity::ReadonlyReplica => role == MemberRole::ReadonlyReplica,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Affinity::Leader => "leader",
            Affinity::Follower => "follower",
            Affinity::ReadonlyReplica => "readonly-replica",
            Affinity::Any => "any",
        }
    }

    pub fn is_default(&self) -> bool {
        *self == Affinity::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_affinity_admits_its_role_and_any_admits_all() {
        let roles = [
            MemberRole::Leader,
            MemberRole::Follower,
            MemberRole::ReadonlyReplica,
        ];
        for role in roles {
            assert!(Affinity::Any.admits(role));
        }
        assert!(Affinity::Leader.admits(MemberRole::Leader));
        assert!(!Affinity::Leader.admits(MemberRole::Follower));
        assert!(Affinity::Follower.admits(MemberRole::Follower));
        assert!(!Affinity::Follower.admits(MemberRole::ReadonlyReplica));
        assert!(Affinity::ReadonlyReplica.admits(MemberRole::ReadonlyReplica));
        assert!(!Affinity::ReadonlyReplica.admits(MemberRole::Leader));
    }

    #[test]
    fn affinity_reads_the_names_users_write() {
        let parsed: Affinity = serde_json::from_str("\"readonly-replica\"").expect("parses");
        assert_eq!(parsed, Affinity::ReadonlyReplica);
        assert!(serde_json::from_str::<Affinity>("\"primary\"").is_err());
    }
}
