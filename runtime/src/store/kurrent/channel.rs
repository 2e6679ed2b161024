//! The channels of the calls this backend makes itself, beside the official
//! client's own: multi-stream appends (to the node that takes writes) and
//! `$all` subscriptions (to the node the connection string prefers).
//!
//! Which node ([`Target`]): the only host given; or, for a cluster (several
//! hosts, or `+discover`), the member that `Gossip.Read` on those hosts
//! reports: for writes the alive leader; for reads the alive member that
//! fits `nodePreference` as the official client picks it (leader,
//! follower, read-only replica, or any; one fitting member at random, else
//! any member that serves clients). Cleartext or TLS as the settings say:
//! TLS trusts `tlsCaFile` when given, else the system's roots, and presents
//! `userCertFile` / `userKeyFile` when given. Basic credentials from the
//! connection string go in the `authorization` header of each call;
//! connections are pinged as `keepAliveInterval` / `keepAliveTimeout` say.
//!
//! A channel is made once and kept; a call that lost its connection
//! [`NodeChannel::forget`]s it, so the next one looks for the node again.
//! TLS without certificate checks (`tlsVerifyCert=false`) is not made here
//! ([`NodeChannel::verifies_certificates`]): multi-stream appends refuse
//! it, subscriptions then go through the official client.

use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use kurrentdb::{ClientSettings, Endpoint, NodePreference};
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use super::protocol::event_store::client::Empty;
use super::protocol::gossip::gossip_client::GossipClient;
use super::protocol::gossip::member_info::VNodeState;
use super::protocol::gossip::MemberInfo;
use crate::store::StoreError;

/// How long connecting to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which node of a cluster a channel goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// The leader, and only the leader.
    Leader,
    /// A node as `nodePreference` asks, as the official client reads.
    Preferred(NodePreference),
}

/// A lazily made channel to one node of the connection string.
pub(super) struct NodeChannel {
    settings: ClientSettings,
    target: Target,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
    current: Mutex<Option<Channel>>,
}

impl NodeChannel {
    /// `credentials` are the connection string's `user:password`, if any.
    pub fn new(
        settings: ClientSettings,
        target: Target,
        credentials: Option<(String, String)>,
    ) -> Result<Self, StoreError> {
        let authorization = match credentials {
            Some((user, password)) => {
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                Some(
                    MetadataValue::try_from(format!("Basic {encoded}")).map_err(|_| {
                        StoreError::InvalidRequest(
                            "the credentials of the connection string cannot be sent".into(),
                        )
                    })?,
                )
            }
            None => None,
        };
        Ok(Self {
            settings,
            target,
            authorization,
            current: Mutex::new(None),
        })
    }

    /// The `authorization` header value, if the connection string has
    /// credentials.
    pub fn authorization(&self) -> Option<&MetadataValue<tonic::metadata::Ascii>> {
        self.authorization.as_ref()
    }

    /// Whether calls should tell the node they need the leader (the
    /// official client's `requires-leader` header, sent when the leader is
    /// preferred): a follower then refuses them with `not-leader`.
    pub fn requires_leader(&self) -> bool {
        matches!(
            self.target,
            Target::Leader | Target::Preferred(NodePreference::Leader)
        )
    }

    /// Whether this channel can be made: TLS without certificate checks is
    /// not made here.
    pub fn verifies_certificates(&self) -> bool {
        !self.settings.is_secure_mode_enabled()
            || self.settings.is_tls_certificate_verification_enabled()
    }

    /// The channel to the target node, made (and the node found) if needed.
    pub async fn channel(&self) -> Result<Channel, StoreError> {
        if let Some(channel) = self.lock().clone() {
            return Ok(channel);
        }
        let node = self.find_node().await?;
        let channel = self.endpoint(&node)?.connect_lazy();
        *self.lock() = Some(channel.clone());
        Ok(channel)
    }

    /// Drops the channel (the connection failed), so the next call makes a
    /// new one.
    pub fn forget(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Channel>> {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn endpoint(&self, node: &Endpoint) -> Result<tonic::transport::Endpoint, StoreError> {
        let uri = self.settings.to_uri(node);
        let (interval, timeout) = keep_alive(&self.settings);
        let mut endpoint = tonic::transport::Endpoint::from(uri)
            .connect_timeout(CONNECT_TIMEOUT)
            .keep_alive_timeout(timeout);
        if let Some(interval) = interval {
            endpoint = endpoint.http2_keep_alive_interval(interval);
        }
        if !self.settings.is_secure_mode_enabled() {
            return Ok(endpoint);
        }
        if !self.settings.is_tls_certificate_verification_enabled() {
            return Err(StoreError::Unsupported(
                "multi-stream appends need a verified TLS certificate: remove \
                 `tlsVerifyCert=false` and name the node's CA with `tlsCaFile`"
                    .into(),
            ));
        }
        let read = |what: &str, path: &str| {
            std::fs::read(path).map_err(|e| {
                StoreError::InvalidRequest(format!("cannot read `{what}` {path}: {e}"))
            })
        };
        let mut tls = ClientTlsConfig::new().domain_name(node.host.clone());
        tls = match self.settings.tls_ca_file() {
            Some(path) => tls.ca_certificate(Certificate::from_pem(read("tlsCaFile", path)?)),
            None => tls.with_native_roots(),
        };
        if let Some((cert, key)) = self.settings.user_certificate() {
            tls = tls.identity(Identity::from_pem(
                read("userCertFile", cert)?,
                read("userKeyFile", key)?,
            ));
        }
        endpoint.tls_config(tls).map_err(|e| {
            StoreError::InvalidRequest(format!("cannot use TLS towards {}: {e}", node.host))
        })
    }

    /// The node to call: the only host given, or the member of the cluster
    /// that the first host answering `Gossip.Read` knows.
    async fn find_node(&self) -> Result<Endpoint, StoreError> {
        let hosts = self.settings.hosts();
        let cluster = hosts.len() > 1 || self.settings.is_dns_discovery_enabled();
        let Some(first) = hosts.first() else {
            return Err(StoreError::InvalidRequest(
                "the connection string names no host".into(),
            ));
        };
        if !cluster {
            return Ok(first.clone());
        }
        let wanted = match self.target {
            Target::Leader => "leader",
            Target::Preferred(_) => "node to read from",
        };
        let mut last_error = String::from("no host answered");
        for host in hosts {
            match self.members_known_to(host).await {
                Ok(members) => match choose(self.target, &members) {
                    Some(node) => return Ok(node),
                    None => last_error = format!("{}:{} knows no {wanted}", host.host, host.port),
                },
                Err(e) => last_error = format!("{}:{}: {e}", host.host, host.port),
            }
        }
        Err(StoreError::Unavailable(format!(
            "cannot find the cluster's {wanted}: {last_error}"
        )))
    }

    async fn members_known_to(&self, host: &Endpoint) -> Result<Vec<MemberInfo>, StoreError> {
        let channel = self
            .endpoint(host)?
            .timeout(self.settings.gossip_timeout())
            .connect()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(GossipClient::new(channel)
            .read(Empty {})
            .await
            .map_err(|e| StoreError::Unavailable(e.message().to_owned()))?
            .into_inner()
            .members)
    }
}

/// The HTTP/2 keep-alive of the settings (`keepAliveInterval`,
/// `keepAliveTimeout`; 10 s each unless set), as the official client pings
/// its connections, so that a connection that silently died ends a live
/// subscription instead of leaving it waiting. The settings show these only
/// in their serialized form (milliseconds; the largest number when
/// disabled). `None`: no pings.
fn keep_alive(settings: &ClientSettings) -> (Option<Duration>, Duration) {
    const DEFAULT: Duration = Duration::from_secs(10);
    /// Longer is as good as never, and keeps timer arithmetic in range.
    const LONGEST: Duration = Duration::from_secs(24 * 60 * 60);
    let serialized = serde_json::to_value(settings).ok();
    let millis = |field: &str| {
        serialized
            .as_ref()
            .and_then(|value| value.get(field))
            .and_then(serde_json::Value::as_u64)
    };
    let interval = match millis("keep_alive_interval") {
        Some(u64::MAX) => None,
        Some(ms) => Some(Duration::from_millis(ms).min(LONGEST)),
        None => Some(DEFAULT),
    };
    let timeout =
        millis("keep_alive_timeout").map_or(DEFAULT, |ms| Duration::from_millis(ms).min(LONGEST));
    (interval, timeout)
}

/// The member a channel for `target` goes to, among `members`: for writes
/// the alive leader; for reads, as the official client chooses, an alive
/// member that serves clients, one that fits the preference (at random
/// among those) when there is one.
fn choose(target: Target, members: &[MemberInfo]) -> Option<Endpoint> {
    let endpoint = |member: &MemberInfo| {
        member.http_end_point.as_ref().map(|end_point| Endpoint {
            host: end_point.address.clone(),
            port: end_point.port,
        })
    };
    let preference = match target {
        Target::Leader => {
            return members
                .iter()
                .find(|m| m.is_alive && m.state == VNodeState::Leader as i32)
                .and_then(endpoint);
        }
        Target::Preferred(preference) => preference,
    };
    let serving: Vec<&MemberInfo> = members
        .iter()
        .filter(|m| m.is_alive && serves_clients(m.state) && m.http_end_point.is_some())
        .collect();
    let fitting: Vec<&MemberInfo> = serving
        .iter()
        .copied()
        .filter(|m| fits(preference, m.state))
        .collect();
    let pool = if fitting.is_empty() { serving } else { fitting };
    if pool.is_empty() {
        return None;
    }
    let index = usize::try_from(random() % pool.len() as u64).unwrap_or(0);
    endpoint(pool[index])
}

/// Whether a member in `state` answers clients (the official client skips
/// managers and nodes shutting down).
fn serves_clients(state: i32) -> bool {
    !matches!(
        VNodeState::try_from(state),
        Ok(VNodeState::Manager | VNodeState::ShuttingDown | VNodeState::Shutdown)
    )
}

/// Whether a member in `state` is what `preference` asks for (`random`:
/// any member).
fn fits(preference: NodePreference, state: i32) -> bool {
    let state = VNodeState::try_from(state);
    match preference {
        NodePreference::Leader => state == Ok(VNodeState::Leader),
        NodePreference::Follower => state == Ok(VNodeState::Follower),
        NodePreference::ReadOnlyReplica => matches!(
            state,
            Ok(VNodeState::ReadOnlyReplica
                | VNodeState::ReadOnlyLeaderless
                | VNodeState::PreReadOnlyReplica)
        ),
        NodePreference::Random => true,
    }
}

/// A random number, from the standard library's randomly keyed hasher.
fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[cfg(test)]
mod tests {
    use super::super::protocol::gossip::EndPoint;
    use super::*;

    fn member(port: u32, state: VNodeState, is_alive: bool) -> MemberInfo {
        MemberInfo {
            http_end_point: Some(EndPoint {
                address: "node".into(),
                port,
            }),
            state: state as i32,
            is_alive,
            ..MemberInfo::default()
        }
    }

    fn port(node: Option<Endpoint>) -> Option<u32> {
        node.map(|n| n.port)
    }

    #[test]
    fn keep_alive_follows_the_connection_string() {
        let parse = |s: &str| super::super::connection::parse_settings(s).expect("settings");
        let ten = Duration::from_secs(10);
        assert_eq!(keep_alive(&parse("esdb://h:1")), (Some(ten), ten));
        assert_eq!(
            keep_alive(&parse(
                "esdb://h:1?keepAliveInterval=20000&keepAliveTimeout=30000"
            )),
            (Some(Duration::from_secs(20)), Duration::from_secs(30))
        );
        let (interval, _) = keep_alive(&parse("esdb://h:1?keepAliveInterval=-1"));
        assert_eq!(interval, None, "-1 turns the pings off");
    }

    #[test]
    fn writes_go_to_the_alive_leader_only() {
        let members = [
            member(1, VNodeState::Follower, true),
            member(2, VNodeState::Leader, false),
            member(3, VNodeState::Leader, true),
        ];
        assert_eq!(port(choose(Target::Leader, &members)), Some(3));
        assert_eq!(port(choose(Target::Leader, &members[..2])), None);
    }

    #[test]
    fn reads_follow_the_preference_and_fall_back_to_any_serving_member() {
        let members = [
            member(1, VNodeState::Leader, true),
            member(2, VNodeState::Follower, true),
            member(3, VNodeState::ReadOnlyReplica, true),
            member(4, VNodeState::Follower, false),
            member(5, VNodeState::Manager, true),
        ];
        let read = |preference| port(choose(Target::Preferred(preference), &members));
        for _ in 0..20 {
            assert_eq!(read(NodePreference::Leader), Some(1));
            assert_eq!(read(NodePreference::Follower), Some(2));
            assert_eq!(read(NodePreference::ReadOnlyReplica), Some(3));
            assert!(matches!(read(NodePreference::Random), Some(1..=3)));
        }
        let leader_only = [member(1, VNodeState::Leader, true)];
        assert_eq!(
            port(choose(
                Target::Preferred(NodePreference::Follower),
                &leader_only
            )),
            Some(1),
            "no follower: the leader rather than nothing"
        );
        let none_serving = [member(5, VNodeState::ShuttingDown, true)];
        assert_eq!(
            port(choose(
                Target::Preferred(NodePreference::Leader),
                &none_serving
            )),
            None
        );
    }
}
