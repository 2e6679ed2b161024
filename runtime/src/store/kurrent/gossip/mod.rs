//! The role of the KurrentDB node a sidecar is attached to, read from the
//! cluster's gossip (`event_store.client.gossip.Gossip/Read`), so that a
//! member started without `--role` takes the connectors whose `affinity`
//! fits its node.
//!
//! The attached node is the first host of the connection string (one
//! sidecar per node, its own node named first). That host is asked first;
//! when it cannot be reached, the other seeds are asked in turn what they
//! know of it (a dead node is listed in a state that maps to a follower). The call goes out cleartext or over TLS as the string says
//! (`tls=false`; `tlsCaFile` trusted when given, else the system's roots;
//! `tlsVerifyCert=false` accepts any certificate), with the string's
//! `user:password` as basic credentials. The node's own entry in the answer
//! is the member whose HTTP endpoint is that host and port (names compared
//! without regard to case, else both sides resolved to addresses); an
//! answer of a single member is that member, whatever address it
//! advertises. The whole look-up takes about [`GOSSIP_DEADLINE`] (at
//! least a second per host asked).
//!
//! States to roles ([`NodeRole::of_state`]): `Leader` is the leader;
//! `ReadOnlyReplica`, `PreReadOnlyReplica` and `ReadOnlyLeaderless` are
//! read-only replicas (a node configured read-only never becomes anything
//! else); every other state is a follower. Those are the states of a
//! writable node that is not, not yet or no longer the leader (`Follower`,
//! `Clone`, `CatchingUp`, `PreReplica`, `PreLeader`, `ResigningLeader`,
//! `Initializing`, `DiscoverLeader`, `Unknown`, `ShuttingDown`, ...), and a
//! state this version does not know is treated the same way: a node that
//! may still lose an election does not take leader-affinity connectors.
//! The role is what the node says now; elections change it, so a caller that
//! wants to follow it asks again.
//!
//! Parts: [`channel`] (the cleartext or TLS channel to one node),
//! [`members`] (finding the attached node in an answer).

mod channel;
mod members;
#[cfg(test)]
mod tests;

use std::time::Duration;

use base64::Engine;
use kurrentdb::{ClientSettings, Endpoint};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::Request;

use self::channel::channel;
use self::members::{attached_member, display, listed};
use super::connection;
use super::protocol::event_store::client::Empty;
use super::protocol::gossip::gossip_client::GossipClient;
use super::protocol::gossip::member_info::VNodeState;
use super::protocol::gossip::MemberInfo;
use crate::store::StoreError;

/// The longest [`attached_node_role`] takes, connecting included.
pub const GOSSIP_DEADLINE: Duration = Duration::from_secs(5);

/// The role of a KurrentDB node, as connectors' `affinity` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeRole {
    Leader,
    Follower,
    ReadOnlyReplica,
}

impl NodeRole {
    /// The role of a node in gossip `state` (the protocol's `VNodeState`
    /// number); see the module overview for why.
    pub fn of_state(state: i32) -> NodeRole {
        match VNodeState::try_from(state) {
            Ok(VNodeState::Leader) => NodeRole::Leader,
            Ok(
                VNodeState::ReadOnlyReplica
                | VNodeState::PreReadOnlyReplica
                | VNodeState::ReadOnlyLeaderless,
            ) => NodeRole::ReadOnlyReplica,
            _ => NodeRole::Follower,
        }
    }

    /// The name used by `--role` and `affinity`: `leader`, `follower` or
    /// `readonly-replica`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Leader => "leader",
            NodeRole::Follower => "follower",
            NodeRole::ReadOnlyReplica => "readonly-replica",
        }
    }
}

impl std::fmt::Display for NodeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the attached node's role could not be read. Messages never contain
/// the connection string's password.
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    /// The connection string cannot be parsed or names no host.
    #[error("{0}")]
    InvalidConnection(String),
    /// The TLS settings of the connection string cannot be used.
    #[error("cannot use TLS towards the KurrentDB node {node}: {reason}")]
    Tls { node: String, reason: String },
    /// The node refused the connection or the call.
    #[error(
        "cannot read the gossip of the KurrentDB node {node}: {reason}; check that the \
         node is up and that the connection string names its gRPC address first with \
         the right `tls` setting, or give this member's role with `--role`"
    )]
    Unreachable { node: String, reason: String },
    /// No answer within [`GOSSIP_DEADLINE`].
    #[error(
        "the KurrentDB node {node} did not answer the gossip request within {}s; check \
         that the connection string names its gRPC address first with the right `tls` \
         setting, or give this member's role with `--role`",
        after.as_secs()
    )]
    TimedOut { node: String, after: Duration },
    /// The node's gossip lists several members, none at the address asked.
    #[error(
        "the gossip of the KurrentDB node {node} does not list it (it lists {listed}); \
         name the node in the connection string by the address it advertises, or give \
         this member's role with `--role`"
    )]
    NotListed { node: String, listed: String },
}

/// The role of the node named first in `connection` (`esdb://`,
/// `kurrentdb://`, `+discover`, several hosts, TLS options, credentials),
/// from its gossip; within [`GOSSIP_DEADLINE`].
pub async fn attached_node_role(connection: &str) -> Result<NodeRole, GossipError> {
    let settings = connection::parse_settings(connection).map_err(invalid_connection)?;
    let node = first_host(&settings)?;
    let authorization = authorization(connection)?;
    // The attached node first; when it cannot be reached, the other seeds
    // say what they know of it.
    let hosts = settings.hosts().to_vec();
    let per_host = (GOSSIP_DEADLINE / u32::try_from(hosts.len()).unwrap_or(1).max(1))
        .max(Duration::from_secs(1));
    let mut first_error = None;
    for asked in &hosts {
        match role_from(&settings, asked, &node, authorization.clone(), per_host).await {
            Ok(role) => return Ok(role),
            Err(e @ (GossipError::Unreachable { .. } | GossipError::TimedOut { .. })) => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(first_error.unwrap_or_else(|| GossipError::TimedOut {
        node: display(&node),
        after: GOSSIP_DEADLINE,
    }))
}

/// The role of `node` in the gossip of `asked`, within `deadline`.
async fn role_from(
    settings: &ClientSettings,
    asked: &Endpoint,
    node: &Endpoint,
    authorization: Option<MetadataValue<Ascii>>,
    deadline: Duration,
) -> Result<NodeRole, GossipError> {
    let answer = tokio::time::timeout(deadline, async {
        let members = read_gossip(settings, asked, authorization).await?;
        match attached_member(&members, node).await {
            Some(member) => Ok(NodeRole::of_state(member.state)),
            None => Err(GossipError::NotListed {
                node: display(node),
                listed: listed(&members),
            }),
        }
    })
    .await;
    answer.unwrap_or_else(|_| {
        Err(GossipError::TimedOut {
            node: display(asked),
            after: deadline,
        })
    })
}

fn invalid_connection(error: StoreError) -> GossipError {
    match error {
        StoreError::InvalidRequest(message) => GossipError::InvalidConnection(message),
        other => GossipError::InvalidConnection(other.to_string()),
    }
}

/// The node the sidecar is attached to: the first host of the string.
fn first_host(settings: &ClientSettings) -> Result<Endpoint, GossipError> {
    settings.hosts().first().cloned().ok_or_else(|| {
        GossipError::InvalidConnection(
            "the KurrentDB connection string names no host, e.g. \
             `esdb://node1.example.com:2113`"
                .into(),
        )
    })
}

/// The `authorization` header for the string's `user:password`, if any.
fn authorization(connection: &str) -> Result<Option<MetadataValue<Ascii>>, GossipError> {
    let Some((user, password)) = connection::credentials(connection.trim()) else {
        return Ok(None);
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    MetadataValue::try_from(format!("Basic {encoded}"))
        .map(Some)
        .map_err(|_| {
            GossipError::InvalidConnection(
                "the credentials of the KurrentDB connection string cannot be sent".into(),
            )
        })
}

/// The members `node` lists in its gossip.
async fn read_gossip(
    settings: &ClientSettings,
    node: &Endpoint,
    authorization: Option<MetadataValue<Ascii>>,
) -> Result<Vec<MemberInfo>, GossipError> {
    let channel = channel(settings, node).await?;
    let mut request = Request::new(Empty {});
    if let Some(value) = authorization {
        request.metadata_mut().insert("authorization", value);
    }
    let answer = GossipClient::new(channel)
        .read(request)
        .await
        .map_err(|status| GossipError::Unreachable {
            node: display(node),
            reason: format!("{:?}: {}", status.code(), status.message()),
        })?;
    Ok(answer.into_inner().members)
}
