//! Where a member's role comes from when it can change: a sidecar's node
//! is elected leader, or steps down. Such a member asks its node again
//! every [`ROLE_REFRESH`] (see [`super::heartbeat`]); when the answer
//! changes, it says so in its next heartbeat and every member places the
//! connectors again (those whose affinity no longer admits it are handed
//! over).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::connector::MemberRole;
use crate::store::kurrent::{attached_node_role, NodeRole};

/// How often a member asks for its role again.
pub const ROLE_REFRESH: Duration = Duration::from_secs(10);

type Lookup =
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<MemberRole, String>> + Send>> + Send + Sync;

/// Where a member's role comes from, when it can change.
#[derive(Clone)]
pub struct RoleSource(Arc<Lookup>);

impl std::fmt::Debug for RoleSource {
    // The lookup may hold a connection string with a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoleSource(..)")
    }
}

impl RoleSource {
    /// The role gossip reports for the node named first in `connection`.
    pub fn gossip(connection: String) -> Self {
        let connection = Arc::new(connection);
        Self(Arc::new(move || {
            let connection = Arc::clone(&connection);
            Box::pin(async move {
                attached_node_role(&connection)
                    .await
                    .map(member_role)
                    .map_err(|e| e.to_string())
            })
        }))
    }

    pub async fn lookup(&self) -> Result<MemberRole, String> {
        (self.0)().await
    }
}

/// A KurrentDB node's role as a member's.
pub fn member_role(role: NodeRole) -> MemberRole {
    match role {
        NodeRole::Leader => MemberRole::Leader,
        NodeRole::Follower => MemberRole::Follower,
        NodeRole::ReadOnlyReplica => MemberRole::ReadonlyReplica,
    }
}
