//! A node: the event store (embedded, or a KurrentDB node when running as a
//! sidecar), the connectors running on it, the HTTP API and, optionally, the
//! KurrentDB gRPC protocol over the embedded store, wired together. The
//! binary and the tests start one the same way. The API's address is bound
//! first and the gRPC one before the node says it started, so an address in
//! use fails the start with a [`ListenError`] naming the flag that sets it.
//! With the embedded store, the node holds its data directory's lock
//! ([`data_lock`]) while it runs, so a second node on the same `--data`
//! refuses to start and names the process holding it. The node's
//! [`Metrics`] are made here and handed to what counts: the pipelines
//! (through the supervisor), the store calls of the connectors and the API
//! ([`Metered`]) and `GET /metrics`.

mod data_lock;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::access::{AccessConfig, PreparedAccess};
use crate::activation::{Cluster, ClusterConfig, RoleSource, Supervisor, ROLE_REFRESH};
use crate::api::{self, AppState};
use crate::backoff::Backoff;
use crate::connector::{
    Command, CommandError, ConnectorId, ConnectorRepository, ConnectorState, MemberRole,
};
use crate::grpc::{GrpcConfig, GrpcServer};
use crate::metrics::Metrics;
use crate::modules::{ModuleRegistry, DEFAULT_MAX_MODULE_BYTES};
use crate::outbound::{DestinationPolicy, DestinationRules};
use crate::secrets::{open_keyring, SecretsConfig};
use crate::store::embedded::SqliteStore;
use crate::store::kurrent::KurrentStore;
use crate::store::metered::Metered;
use crate::store::{EventStore, StoreError};
use crate::tls::TlsListener;
use crate::wasm::{WasmConfig, WasmHost};

pub use data_lock::{DataDirLock, DataLockError};

/// Where a node keeps its streams (definitions, checkpoints, dead letters,
/// modules) and reads the events its connectors deliver.
#[derive(Clone)]
pub enum StoreLocation {
    /// The embedded store, in `<data_dir>/events.db`.
    Embedded,
    /// A KurrentDB / EventStoreDB node: a connection string as the official
    /// clients accept it (`esdb://`, `kurrentdb://`, `+discover`, several
    /// hosts, credentials, TLS options).
    Kurrent(String),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Embedded => f.write_str("Embedded"),
            // The connection string may carry a password.
            StoreLocation::Kurrent(_) => f.write_str("Kurrent(..)"),
        }
    }
}

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the embedded store keeps its files, and where compiled
    /// WebAssembly components are cached (also in sidecar mode).
    pub data_dir: PathBuf,
    /// The embedded store or a KurrentDB node.
    pub store: StoreLocation,
    /// Serve the KurrentDB gRPC protocol over the embedded store.
    pub grpc: Option<GrpcConfig>,
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// The largest request body the API accepts.
    pub max_body_bytes: usize,
    /// This member's name in the cluster, unique among the members.
    pub member: String,
    /// This member's role; by default an embedded node is the leader and a
    /// sidecar takes the role of the node it is attached to.
    pub role: Option<MemberRole>,
    /// Whether this member runs connectors (`false`: API only).
    pub runs_connectors: bool,
    /// Time between two heartbeats.
    pub heartbeat: std::time::Duration,
    /// A member not heard from for this long is dead.
    pub lease: std::time::Duration,
    /// The largest WebAssembly module that can be uploaded, in bytes.
    pub max_module_bytes: usize,
    /// Where sinks may connect, on top of the default destination policy.
    pub destinations: DestinationRules,
    /// Where the keys that encrypt connectors' secrets come from.
    pub secrets: SecretsConfig,
    /// API tokens, TLS, `--insecure` (gRPC users are in `grpc`).
    pub access: AccessConfig,
}

impl NodeConfig {
    /// The default largest module: 64 MiB.
    pub const DEFAULT_MAX_MODULE_BYTES: usize = DEFAULT_MAX_MODULE_BYTES;
}

/// A listener the node could not open.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error(
        "cannot listen on {addr}: the address is already in use (another node, or another \
         program); stop it, or choose another address with `{flag} <host:port>`"
    )]
    InUse {
        addr: SocketAddr,
        flag: &'static str,
    },
    #[error("cannot listen on {addr} (set with `{flag}`): {error}")]
    Other {
        addr: SocketAddr,
        flag: &'static str,
        error: std::io::Error,
    },
}

impl ListenError {
    fn new(addr: SocketAddr, flag: &'static str, error: std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::AddrInUse => Self::InUse { addr, flag },
            _ => Self::Other { addr, flag, error },
        }
    }

    /// The listen error in `error`'s chain, named after `flag`, if there is
    /// one; otherwise `error` itself.
    fn find(error: anyhow::Error, addr: SocketAddr, flag: &'static str) -> anyhow::Error {
        let kind = error
            .chain()
            .find_map(|cause| cause.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind);
        match kind {
            Some(std::io::ErrorKind::AddrInUse) => Self::InUse { addr, flag }.into(),
            _ => error,
        }
    }
}

/// The flag that sets the API's address.
const LISTEN_FLAG: &str = "--listen";
/// The flag that sets the gRPC protocol's address.
const GRPC_LISTEN_FLAG: &str = "--grpc-listen";

/// A started node.
pub struct Node {
    state: AppState,
    max_body_bytes: usize,
    /// The API's listener, bound before the node says it started.
    listener: TcpListener,
    grpc: Option<GrpcServer>,
    access: PreparedAccess,
    /// The embedded store's data directory, held until the node ends.
    _data_lock: Option<DataDirLock>,
}

impl Node {
    /// Binds the API's address, opens the store and starts every enabled
    /// connector. An address in use fails the start with a
    /// [`ListenError`] before anything else is opened; a data directory
    /// another node holds fails it with a [`DataLockError`].
    pub async fn start(config: NodeConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| ListenError::new(config.listen, LISTEN_FLAG, e))?;
        let api_addr = listener.local_addr()?;
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
        let data_lock = match config.store {
            StoreLocation::Embedded => Some(DataDirLock::acquire(&config.data_dir)?),
            StoreLocation::Kurrent(_) => None,
        };
        let access = crate::access::prepare(&config.access, config.listen, config.grpc.as_ref())?;
        let sidecar = matches!(config.store, StoreLocation::Kurrent(_));
        let keyring = Arc::new(open_keyring(&config.secrets, &config.data_dir, sidecar)?);
        let store = open_store(&config).await?;
        let grpc = match &config.grpc {
            Some(grpc) if matches!(config.store, StoreLocation::Kurrent(_)) => {
                anyhow::bail!(
                    "the gRPC protocol (on {}) serves the embedded store; a sidecar's clients \
                     talk to the KurrentDB node itself",
                    grpc.listen
                )
            }
            Some(grpc) => Some(
                crate::grpc::serve(Arc::clone(&store), grpc.with_tls(access.tls.clone()))
                    .await
                    .map_err(|e| ListenError::find(e, grpc.listen, GRPC_LISTEN_FLAG))?,
            ),
            None => None,
        };
        let grpc_addr = grpc.as_ref().map(GrpcServer::local_addr);
        // The connectors' and the API's store calls are timed; the gRPC
        // protocol's clients are not this node's calls.
        let metrics = Metrics::new();
        let store: Arc<dyn EventStore> = Arc::new(Metered::new(store, &metrics));
        let destinations = DestinationPolicy::for_node(&config.destinations, api_addr, grpc_addr);
        let cache_dir = config.data_dir.join("wasm-cache");
        let wasm = WasmHost::new(WasmConfig {
            cache_dir: cache_dir.clone(),
            destinations: Arc::new(destinations),
        })
        .with_context(|| {
            format!(
                "cannot start the WebAssembly host (cache at {})",
                cache_dir.display()
            )
        })?;
        let repository = ConnectorRepository::new(Arc::clone(&store)).with_keyring(keyring);
        // A module that connectors use cannot be deleted.
        let modules =
            ModuleRegistry::new(Arc::clone(&store), wasm.clone(), config.max_module_bytes)
                .with_users(Arc::new(repository.clone()));
        // Pipelines build their WebAssembly stages from the uploaded modules.
        let supervisor = Arc::new(
            Supervisor::new(repository.clone(), Arc::new(modules.clone()))
                .with_metrics(metrics.clone()),
        );
        let remote = matches!(config.store, StoreLocation::Kurrent(_));
        let cluster_config = cluster_config(&config, api_addr, access.tls.is_some())?;
        let cluster = join_cluster(
            cluster_config,
            repository.clone(),
            Arc::clone(&supervisor),
            remote,
        )
        .await?;
        tracing::info!(
            data = %config.data_dir.display(),
            listen = %api_addr,
            grpc = ?grpc_addr,
            store = %describe(&config.store),
            member = %cluster.member(),
            "node started"
        );
        Ok(Self {
            state: AppState {
                store,
                repository,
                supervisor,
                cluster,
                wasm,
                modules,
                metrics,
            },
            max_body_bytes: config.max_body_bytes,
            listener,
            grpc,
            access,
            _data_lock: data_lock,
        })
    }

    /// Where the HTTP API listens.
    pub fn api_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the gRPC protocol listens, when it is served.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().map(GrpcServer::local_addr)
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.state.store
    }

    pub fn repository(&self) -> &ConnectorRepository {
        &self.state.repository
    }

    pub fn supervisor(&self) -> &Arc<Supervisor> {
        &self.state.supervisor
    }

    /// This member of the cluster.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.state.cluster
    }

    /// Leaves the cluster: stops every connector gracefully (each
    /// checkpoints what it delivered) and hands them over.
    pub async fn leave(&self) {
        self.state.cluster.leave().await;
    }

    /// The uploaded WebAssembly modules.
    pub fn modules(&self) -> &ModuleRegistry {
        &self.state.modules
    }

    /// The WebAssembly host (engine and compiled-component cache).
    pub fn wasm(&self) -> &WasmHost {
        &self.state.wasm
    }

    /// Carries out a connector command and starts or stops its pipeline.
    pub async fn execute(
        &self,
        id: &ConnectorId,
        command: Command,
    ) -> Result<ConnectorState, CommandError> {
        self.state.execute(id, command).await
    }

    pub fn router(&self) -> Router {
        api::router(
            self.state.clone(),
            self.max_body_bytes,
            self.access.api.clone(),
        )
    }

    /// Serves the API until `shutdown` completes, then stops every connector
    /// gracefully (each checkpoints what it delivered).
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = self.router();
        let listener = self.listener;
        tracing::info!(
            listen = %listener.local_addr()?,
            tls = self.access.tls.is_some(),
            tokens = !self.access.api.tokens.is_empty(),
            "management API listening"
        );
        let served = match &self.access.tls {
            Some(tls) => {
                let listener = TlsListener::new(listener, tls.acceptor())?;
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
            None => {
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        };
        served.context("the API server failed")?;
        tracing::info!("stopping connectors and leaving the cluster");
        self.state.cluster.leave().await;
        if let Some(grpc) = self.grpc {
            grpc.shutdown().await;
        }
        Ok(())
    }
}

/// This member's part in the cluster. Its role: as given, else the leader
/// for an embedded node, else the role gossip reports for the node a sidecar
/// is attached to (read when it joins, and followed).
fn cluster_config(
    config: &NodeConfig,
    api_addr: SocketAddr,
    tls: bool,
) -> anyhow::Result<ClusterConfig> {
    let role_source = match (config.role, &config.store) {
        (None, StoreLocation::Kurrent(connection)) => Some(RoleSource::gossip(connection.clone())),
        _ => None,
    };
    let scheme = if tls { "https" } else { "http" };
    let cluster = ClusterConfig {
        member: config.member.clone(),
        role: config.role.unwrap_or(MemberRole::Leader),
        role_source,
        runs_connectors: config.runs_connectors,
        heartbeat: config.heartbeat,
        lease: config.lease,
        address: format!("{scheme}://{api_addr}"),
    };
    cluster.validate()?;
    Ok(cluster)
}

/// Joins the cluster: loads the connectors and who runs them, and starts
/// running this member's share. While a `remote` store cannot be reached
/// (a KurrentDB node still starting, a network outage), waits and retries
/// with a growing pause, saying why; any other failure stops the start.
async fn join_cluster(
    config: ClusterConfig,
    repository: ConnectorRepository,
    supervisor: Arc<Supervisor>,
    remote: bool,
) -> anyhow::Result<Arc<Cluster>> {
    let mut backoff = Backoff::new(
        std::time::Duration::from_millis(500),
        std::time::Duration::from_secs(10),
    );
    let mut config = config;
    loop {
        // A sidecar whose node cannot tell its role yet (that node is down,
        // the store is reached through another seed) runs as a follower,
        // taking no leader-affinity connectors, until the node answers.
        let mut role_unknown = None;
        if let Some(source) = &config.role_source {
            match source.lookup().await {
                Ok(role) => config.role = role,
                Err(reason) => {
                    config.role = MemberRole::Follower;
                    role_unknown = Some(reason);
                }
            }
        }
        match Cluster::start(config.clone(), repository.clone(), Arc::clone(&supervisor)).await {
            Ok(cluster) => {
                if let Some(reason) = role_unknown {
                    tracing::warn!(%reason, every_s = ROLE_REFRESH.as_secs(), "cannot read this member's role from its node; it runs as a follower until the node answers");
                }
                return Ok(cluster);
            }
            Err(CommandError::Store(StoreError::Unavailable(reason))) if remote => {
                let pause = backoff.next_wait();
                tracing::warn!(%reason, retry_in = ?pause, "the event store cannot be reached; waiting for it");
                tokio::time::sleep(pause).await;
            }
            Err(e) => return Err(anyhow::Error::new(e).context("cannot load the connectors")),
        }
    }
}

/// Opens the embedded store, or connects to the KurrentDB node (lazily: the
/// client connects on first use and retries, so a node that is still
/// starting is waited for by the first reads).
async fn open_store(config: &NodeConfig) -> anyhow::Result<Arc<dyn EventStore>> {
    match &config.store {
        StoreLocation::Embedded => {
            let db = config.data_dir.join("events.db");
            let store = SqliteStore::open(&db)
                .with_context(|| format!("cannot open the event store at {}", db.display()))?;
            Ok(Arc::new(store))
        }
        StoreLocation::Kurrent(connection) => {
            let store = KurrentStore::connect(connection)
                .context("cannot use the KurrentDB connection string")?;
            Ok(Arc::new(store))
        }
    }
}

fn describe(store: &StoreLocation) -> &'static str {
    match store {
        StoreLocation::Embedded => "embedded",
        StoreLocation::Kurrent(_) => "KurrentDB",
    }
}
