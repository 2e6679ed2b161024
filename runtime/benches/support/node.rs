//! Nodes started as a library (the same `Node` the `connectors` binary
//! runs), on loopback with the default limits: an embedded node, which can
//! also serve the KurrentDB gRPC protocol, and a sidecar whose store is such
//! a node, reached over gRPC.

use std::net::SocketAddr;
use std::path::PathBuf;

use connectors::connector::MemberRole;
use connectors::grpc::GrpcConfig;
use connectors::node::{Node, NodeConfig, StoreLocation};

/// A node's settings: API on a free loopback port, no gRPC, connectors run.
pub fn config(data_dir: PathBuf, store: StoreLocation, member: &str) -> NodeConfig {
    NodeConfig {
        store,
        grpc: None,
        data_dir,
        listen: loopback(),
        max_body_bytes: 1 << 20,
        member: member.into(),
        role: None,
        runs_connectors: true,
        heartbeat: connectors::activation::DEFAULT_HEARTBEAT,
        lease: connectors::activation::DEFAULT_LEASE,
        max_module_bytes: NodeConfig::DEFAULT_MAX_MODULE_BYTES,
        destinations: Default::default(),
        secrets: Default::default(),
        access: Default::default(),
    }
}

/// The gRPC protocol on a free loopback port, cleartext, without users.
pub fn grpc_on_loopback() -> GrpcConfig {
    GrpcConfig {
        listen: loopback(),
        credentials: None,
        users: Vec::new(),
        tls: None,
    }
}

/// An embedded node named `member` that also serves the gRPC protocol.
pub async fn embedded_with_grpc(data_dir: PathBuf, member: &str) -> Node {
    let mut config = config(data_dir, StoreLocation::Embedded, member);
    config.grpc = Some(grpc_on_loopback());
    Node::start(config).await.expect("start the embedded node")
}

/// A sidecar named `member` in `role`, whose store is the node serving
/// gRPC on `store`.
pub async fn sidecar(data_dir: PathBuf, member: &str, role: MemberRole, store: SocketAddr) -> Node {
    let mut config = config(
        data_dir,
        StoreLocation::Kurrent(connection_string(store)),
        member,
    );
    config.role = Some(role);
    Node::start(config).await.expect("start the sidecar")
}

/// The connection string of a node serving cleartext gRPC on `addr`.
pub fn connection_string(addr: SocketAddr) -> String {
    format!("esdb://{addr}?tls=false")
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}
