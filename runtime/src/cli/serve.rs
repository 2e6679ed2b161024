//! `connectors serve` and `connectors demo`: the options of a node and the
//! [`NodeConfig`] they make; their logging options are [`LogArgs`]. Any of
//! them can also come from a settings file (`--config`, see
//! [`super::config_file`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::logging::LogArgs;
use crate::access::AccessArgs;
use crate::activation::{DEFAULT_HEARTBEAT, DEFAULT_LEASE};
use crate::connector::MemberRole;
use crate::node::{NodeConfig, StoreLocation};

/// The options of a node.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// A TOML file of node settings: these options by their long names
    /// (`listen = "127.0.0.1:2119"`); flags and environment variables win
    /// over it.
    #[arg(long, env = "CONNECTORS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the embedded store and of the compiled-module cache
    /// [default: ./data; ./demo-data for `demo`].
    #[arg(long, env = "CONNECTORS_DATA")]
    data: Option<PathBuf>,
    /// Run as a sidecar of a KurrentDB / EventStoreDB node instead of using
    /// the embedded store: a connection string such as
    /// `esdb://admin:changeit@db1:2113,db2:2113?tls=false` or
    /// `kurrentdb+discover://cluster.example.com:2113`.
    #[arg(
        long,
        env = "CONNECTORS_STORE",
        value_name = "CONNECTION_STRING",
        hide_env_values = true
    )]
    store: Option<String>,
    /// Serve the KurrentDB gRPC protocol over the embedded store on this
    /// address (cleartext HTTP/2, clients use `?tls=false`; TLS with
    /// `--tls-cert`).
    #[arg(long, env = "CONNECTORS_GRPC_LISTEN", value_name = "ADDR")]
    grpc_listen: Option<SocketAddr>,
    /// Address of the HTTP API.
    #[arg(long, default_value = "127.0.0.1:2119", env = "CONNECTORS_LISTEN")]
    listen: SocketAddr,
    /// Largest request body the API accepts, in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Largest WebAssembly module that can be uploaded, in bytes.
    #[arg(long, default_value_t = crate::node::NodeConfig::DEFAULT_MAX_MODULE_BYTES)]
    max_module_bytes: usize,
    /// This member's name in the cluster, unique among the members sharing
    /// the store (default: the listen address).
    #[arg(long, env = "CONNECTORS_MEMBER")]
    member: Option<String>,
    /// This member's role, which connectors' `affinity` matches [default:
    /// `leader` for an embedded node; a sidecar takes the role that gossip
    /// reports for the node it is attached to].
    #[arg(long, env = "CONNECTORS_ROLE", value_enum)]
    role: Option<MemberRole>,
    /// Serve the API but run no connectors (they run on other members).
    #[arg(long)]
    no_connectors: bool,
    /// Milliseconds between two heartbeats of this member.
    #[arg(long, env = "CONNECTORS_HEARTBEAT_MS", default_value_t = DEFAULT_HEARTBEAT.as_millis() as u64)]
    heartbeat_ms: u64,
    /// Milliseconds without a heartbeat after which a member counts as dead
    /// and its connectors move (at least three heartbeats).
    #[arg(long, env = "CONNECTORS_LEASE_MS", default_value_t = DEFAULT_LEASE.as_millis() as u64)]
    lease_ms: u64,
    #[command(flatten)]
    destinations: crate::outbound::DestinationArgs,
    #[command(flatten)]
    secrets: crate::secrets::SecretsArgs,
    #[command(flatten)]
    access: AccessArgs,
    /// Format and filter of the node's logs.
    #[command(flatten)]
    pub logs: LogArgs,
}

/// Where `serve` keeps its data unless told otherwise.
pub const SERVE_DATA: &str = "./data";
/// Where `demo` keeps its data unless told otherwise: apart from `serve`'s,
/// so the demo connector and its events never show up in a normal node.
pub const DEMO_DATA: &str = "./demo-data";

impl ServeArgs {
    /// The node's configuration; `default_data` when `--data` is not given.
    pub fn config(self, default_data: &str) -> NodeConfig {
        NodeConfig {
            member: self.member.unwrap_or_else(|| self.listen.to_string()),
            role: self.role,
            runs_connectors: !self.no_connectors,
            heartbeat: Duration::from_millis(self.heartbeat_ms),
            lease: Duration::from_millis(self.lease_ms),
            store: match self.store {
                Some(connection) => StoreLocation::Kurrent(connection),
                None => StoreLocation::Embedded,
            },
            grpc: self.grpc_listen.map(|listen| self.access.grpc(listen)),
            access: self.access.config(),
            data_dir: self.data.unwrap_or_else(|| PathBuf::from(default_data)),
            listen: self.listen,
            max_body_bytes: self.max_body_bytes,
            max_module_bytes: self.max_module_bytes,
            destinations: self.destinations.rules(),
            secrets: self.secrets.config(),
        }
    }
}
