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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use hyper_util::rt::TokioIo;
use kurrentdb::{ClientSettings, Endpoint};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Uri};
use tonic::Request;

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

/// A connected channel to `node`, TLS as the settings say.
async fn channel(settings: &ClientSettings, node: &Endpoint) -> Result<Channel, GossipError> {
    let tls_error = |reason: String| GossipError::Tls {
        node: display(node),
        reason,
    };
    let unreachable = |error: tonic::transport::Error| GossipError::Unreachable {
        node: display(node),
        reason: error_chain(&error),
    };
    let secure = settings.is_secure_mode_enabled();
    let verified = secure && settings.is_tls_certificate_verification_enabled();
    // An unverified TLS connection is made by our own connector, so tonic
    // sees a cleartext `http` address.
    let scheme = if verified { "https" } else { "http" };
    let uri: Uri =
        format!("{scheme}://{}", display(node))
            .parse()
            .map_err(|e: http::uri::InvalidUri| {
                GossipError::InvalidConnection(format!(
                    "the KurrentDB node {} is not a valid address: {e}",
                    display(node)
                ))
            })?;
    let endpoint = Channel::builder(uri).connect_timeout(GOSSIP_DEADLINE);
    if !secure {
        return endpoint.connect().await.map_err(unreachable);
    }
    if !verified {
        let connector = UnverifiedTls::new().map_err(tls_error)?;
        return endpoint
            .connect_with_connector(connector)
            .await
            .map_err(unreachable);
    }
    let mut tls = ClientTlsConfig::new().domain_name(unbracketed(&node.host));
    tls = match settings.tls_ca_file() {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| tls_error(format!("cannot read `tlsCaFile` {path}: {e}")))?;
            tls.ca_certificate(Certificate::from_pem(pem))
        }
        None => tls.with_native_roots(),
    };
    let endpoint = endpoint
        .tls_config(tls)
        .map_err(|e| tls_error(error_chain(&e)))?;
    endpoint.connect().await.map_err(unreachable)
}

/// The member that is `node`: the only one, else the one advertising its
/// host (any case) and port, else one whose address resolves to one of
/// `node`'s.
async fn attached_member<'a>(members: &'a [MemberInfo], node: &Endpoint) -> Option<&'a MemberInfo> {
    if let [only] = members {
        return Some(only);
    }
    if let Some(member) = members.iter().find(|m| advertises(m, node)) {
        return Some(member);
    }
    let node_addresses = resolve(node).await;
    if node_addresses.is_empty() {
        return None;
    }
    for member in members {
        let Some(end_point) = &member.http_end_point else {
            continue;
        };
        let member_node = Endpoint {
            host: end_point.address.clone(),
            port: end_point.port,
        };
        let addresses = resolve(&member_node).await;
        if addresses.iter().any(|a| node_addresses.contains(a)) {
            return Some(member);
        }
    }
    None
}

/// Whether `member` advertises exactly `node` (host names without regard
/// to case, IPv6 with or without brackets).
fn advertises(member: &MemberInfo, node: &Endpoint) -> bool {
    member.http_end_point.as_ref().is_some_and(|end_point| {
        end_point.port == node.port
            && unbracketed(&end_point.address).eq_ignore_ascii_case(unbracketed(&node.host))
    })
}

/// The socket addresses `node` resolves to (none when it does not).
async fn resolve(node: &Endpoint) -> Vec<std::net::SocketAddr> {
    let Ok(port) = u16::try_from(node.port) else {
        return Vec::new();
    };
    match tokio::net::lookup_host((unbracketed(&node.host), port)).await {
        Ok(addresses) => addresses.collect(),
        Err(_) => Vec::new(),
    }
}

fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `host:port`, IPv6 addresses in brackets.
fn display(node: &Endpoint) -> String {
    let host = unbracketed(&node.host);
    if host.contains(':') {
        format!("[{host}]:{}", node.port)
    } else {
        format!("{host}:{}", node.port)
    }
}

/// The members' endpoints and states, for an error message.
fn listed(members: &[MemberInfo]) -> String {
    if members.is_empty() {
        return "no member".to_owned();
    }
    members
        .iter()
        .map(|member| {
            let at = member.http_end_point.as_ref().map_or_else(
                || "no address".to_owned(),
                |e| {
                    display(&Endpoint {
                        host: e.address.clone(),
                        port: e.port,
                    })
                },
            );
            let state = VNodeState::try_from(member.state)
                .map_or_else(|_| member.state.to_string(), |s| s.as_str_name().to_owned());
            format!("{at} ({state})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An error and its sources, e.g. "transport error: connection refused".
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Connects over TLS without checking the server's certificate, as
/// `tlsVerifyCert=false` asks (the handshake's signatures are still
/// checked, so the session is encrypted to whoever answered).
#[derive(Clone)]
struct UnverifiedTls {
    config: Arc<rustls::ClientConfig>,
}

impl UnverifiedTls {
    fn new() -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider }))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

type Connecting = Pin<
    Box<
        dyn Future<
                Output = std::io::Result<
                    TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
                >,
            > + Send,
    >,
>;

impl tonic::codegen::Service<Uri> for UnverifiedTls {
    type Response = TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
    type Error = std::io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.config));
        Box::pin(async move {
            let invalid =
                |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_owned());
            let host = unbracketed(uri.host().ok_or_else(|| invalid("no host"))?).to_owned();
            let port = uri.port_u16().ok_or_else(|| invalid("no port"))?;
            let name = ServerName::try_from(host.clone())
                .map_err(|_| invalid("not a host name for TLS"))?;
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(name, tcp).await?;
            Ok(TokioIo::new(tls))
        })
    }
}

/// Accepts any server certificate; checks handshake signatures.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kurrent::protocol::gossip::EndPoint;

    fn member(address: &str, port: u32, state: VNodeState) -> MemberInfo {
        MemberInfo {
            instance_id: None,
            time_stamp: 0,
            state: state as i32,
            is_alive: true,
            http_end_point: Some(EndPoint {
                address: address.to_owned(),
                port,
            }),
        }
    }

    fn node(host: &str, port: u32) -> Endpoint {
        Endpoint {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn states_map_to_roles() {
        use NodeRole::{Follower, Leader, ReadOnlyReplica};
        use VNodeState as S;
        let expected = [
            (S::Leader, Leader),
            (S::Follower, Follower),
            (S::ReadOnlyReplica, ReadOnlyReplica),
            (S::PreReadOnlyReplica, ReadOnlyReplica),
            (S::ReadOnlyLeaderless, ReadOnlyReplica),
            (S::Clone, Follower),
            (S::CatchingUp, Follower),
            (S::PreReplica, Follower),
            (S::PreLeader, Follower),
            (S::ResigningLeader, Follower),
            (S::Initializing, Follower),
            (S::DiscoverLeader, Follower),
            (S::Unknown, Follower),
            (S::Manager, Follower),
            (S::ShuttingDown, Follower),
            (S::Shutdown, Follower),
        ];
        for (state, role) in expected {
            assert_eq!(NodeRole::of_state(state as i32), role, "{state:?}");
        }
        assert_eq!(
            NodeRole::of_state(99),
            NodeRole::Follower,
            "an unknown state"
        );
        assert_eq!(NodeRole::ReadOnlyReplica.to_string(), "readonly-replica");
    }

    #[tokio::test]
    async fn a_single_member_is_the_attached_node_whatever_it_advertises() {
        let members = [member("10.1.2.3", 2113, VNodeState::Follower)];
        let found = attached_member(&members, &node("db.example.invalid", 1113)).await;
        assert_eq!(found.map(|m| m.state), Some(VNodeState::Follower as i32));
    }

    #[tokio::test]
    async fn the_attached_node_is_the_member_at_the_first_host() {
        let members = [
            member("node1.example.invalid", 2113, VNodeState::Leader),
            member("NODE2.example.invalid", 2113, VNodeState::Follower),
            member("node3.example.invalid", 2113, VNodeState::ReadOnlyReplica),
        ];
        let role = |host: &str, port: u32| {
            let members = &members;
            let node = node(host, port);
            async move {
                attached_member(members, &node)
                    .await
                    .map(|m| NodeRole::of_state(m.state))
            }
        };
        assert_eq!(
            role("node1.example.invalid", 2113).await,
            Some(NodeRole::Leader)
        );
        assert_eq!(
            role("node2.EXAMPLE.invalid", 2113).await,
            Some(NodeRole::Follower)
        );
        assert_eq!(
            role("node3.example.invalid", 2113).await,
            Some(NodeRole::ReadOnlyReplica)
        );
    }

    #[tokio::test]
    async fn no_member_at_the_first_host_is_no_attached_node() {
        let members = [
            member("10.0.0.1", 2113, VNodeState::Leader),
            member("10.0.0.2", 2113, VNodeState::Follower),
        ];
        let found = attached_member(&members, &node("10.0.0.1", 2114)).await;
        assert!(found.is_none(), "another port");
        let found = attached_member(&members, &node("10.0.0.3", 2113)).await;
        assert!(found.is_none(), "another address");
    }

    #[tokio::test]
    async fn addresses_match_when_names_differ() {
        let members = [
            member("127.0.0.1", 2113, VNodeState::Leader),
            member("[::1]", 2114, VNodeState::Follower),
        ];
        let found = attached_member(&members, &node("::1", 2114)).await;
        assert_eq!(found.map(|m| m.state), Some(VNodeState::Follower as i32));
        let found = attached_member(&members, &node("localhost", 2113)).await;
        assert_eq!(found.map(|m| m.state), Some(VNodeState::Leader as i32));
    }

    #[test]
    fn the_first_host_of_the_string_is_the_attached_node() {
        let first = |connection: &str| {
            let settings = connection::parse_settings(connection).expect("parse");
            display(&first_host(&settings).expect("a host"))
        };
        assert_eq!(first("esdb://127.0.0.1:2113?tls=false"), "127.0.0.1:2113");
        assert_eq!(
            first(
                "kurrentdb://admin:changeit@n2:2114,n1:2113,n3:2115?tls=true&tlsVerifyCert=false"
            ),
            "n2:2114"
        );
        assert_eq!(
            first("esdb+discover://cluster.example.com:2113"),
            "cluster.example.com:2113"
        );
        assert_eq!(first("esdb://[::1]:2113?tls=false"), "[::1]:2113");
    }

    #[test]
    fn credentials_become_basic_authorization() {
        let header = authorization("esdb://admin:changeit@h:2113?tls=false").expect("header");
        assert_eq!(
            header.as_ref().and_then(|v| v.to_str().ok()),
            Some("Basic YWRtaW46Y2hhbmdlaXQ=")
        );
        assert!(authorization("esdb://h:2113").expect("no header").is_none());
    }

    #[tokio::test]
    async fn a_bad_string_is_refused_without_its_password() {
        let error = attached_node_role("esdb://admin:hunter2-secret@localhost:2113?tls=maybe")
            .await
            .expect_err("refused");
        let GossipError::InvalidConnection(message) = &error else {
            panic!("expected InvalidConnection, got {error:?}");
        };
        assert!(!message.contains("hunter2-secret"), "{message}");
        assert!(message.contains("tls"), "{message}");
    }

    #[test]
    fn the_members_listed_in_an_error_show_address_and_state() {
        let members = [
            member("node1", 2113, VNodeState::Leader),
            member("::1", 2114, VNodeState::Clone),
        ];
        assert_eq!(listed(&members), "node1:2113 (Leader), [::1]:2114 (Clone)");
    }
}
