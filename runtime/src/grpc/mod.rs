//! The KurrentDB (EventStoreDB) gRPC protocol, served by an embedded node so
//! that the official clients, and this runtime's own sidecar mode, can use
//! it as they would a KurrentDB node.
//!
//! What is served (cleartext HTTP/2 like a node with `tls=false`, or TLS
//! with the node's `--tls-cert` / `--tls-key`):
//! - `Streams`: `Read` (stream reads both ways, `$all` reads, subscriptions
//!   to a stream or to `$all` with stream-name / event-type filters and
//!   checkpoints; [`request`] checks a read, [`read`] and [`subscribe`]
//!   answer it), `Append` ([`append`]; `$$stream` metadata in [`metadata`]),
//!   `Delete`, `Tombstone` ([`streams`]); the answers these share are built
//!   in [`replies`]. `BatchAppend` ([`batch_append`]): many appends on one
//!   call, keyed by correlation id, chunked, with deadlines, written
//!   concurrently through the same write as `Append`.
//! - `kurrentdb.protocol.v2.streams.StreamsService`: `AppendSession`, the
//!   atomic append to several streams of KurrentDB 25.1 ([`v2`]), with the
//!   same credentials and stream rules as `Streams`, and errors as rich
//!   statuses (details in `grpc-status-details-bin`).
//! - `ServerFeatures.GetSupportedMethods` and `Gossip.Read` ([`cluster`]):
//!   this node as the only, alive leader.
//! - Any other service (persistent subscriptions, projections, ...) is
//!   answered as KurrentDB answers a service it does not serve
//!   ([`absent`]).
//!
//! Access: with an admin user (`--grpc-credentials`) and optional ordinary
//! users (`--grpc-user`), every `Streams` call needs basic credentials
//! ([`auth`]); only the admin may use `$` streams and `$all` ([`acl`]).
//! `ServerFeatures` and `Gossip` stay open as on KurrentDB: clients call
//! them before authenticating, and they reveal only the methods served and
//! this node's address. Without users the node is open, which it allows only on a
//! loopback address unless started with `--insecure` (see `crate::access`).
//!
//! Errors follow the server's conventions ([`status`]): wrong expected
//! revisions of appends are a normal answer; other failures are statuses
//! with an `exception` metadata entry (`stream-deleted`,
//! `wrong-expected-version`, `access-denied`, ...); a batch append answers
//! each refused append with a `google.rpc.Status` carrying the matching
//! detail message (`WrongExpectedVersion`, `StreamDeleted`, ...). Positions are the
//! embedded store's (contiguous sequence numbers), not KurrentDB's byte
//! offsets: clients treat them as opaque.

// `tonic::Status` is the error type the generated service traits require;
// boxing it in the helpers would only unbox it again at the boundary.
#![allow(clippy::result_large_err)]

mod absent;
mod acl;
mod append;
mod auth;
mod batch_append;
mod cluster;
mod convert;
#[cfg(test)]
mod decode_fuzz;
#[cfg(test)]
mod limits_tests;
mod metadata;
mod proto;
mod quick_ack;
mod read;
mod replies;
mod request;
mod status;
mod streams;
mod subscribe;
#[cfg(test)]
mod tests;
mod v2;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;

pub use auth::Credentials;
pub use cluster::PROTOCOL_VERSION;

use self::auth::Authenticate;
use self::cluster::{Features, Gossip};
use self::proto::gossip::gossip_server::GossipServer;
use self::proto::server_features::server_features_server::ServerFeaturesServer;
use self::proto::streams::streams_server::StreamsServer;
use self::quick_ack::QuickAck;
use self::streams::StreamsService;
use self::v2::{StreamsServiceServer as V2StreamsServer, V2Streams};
use crate::store::EventStore;
use crate::tls::{TlsIdentity, TlsIncoming};

/// The largest single protocol message accepted (one appended event).
const MAX_MESSAGE_BYTES: usize = 17 * 1024 * 1024;

/// How long [`GrpcServer::shutdown`] waits for calls to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Where and how to serve the protocol.
#[derive(Debug, Clone)]
pub struct GrpcConfig {
    pub listen: SocketAddr,
    /// The admin user: when set, every call must carry the credentials of
    /// the admin or of one of `users` (basic authentication).
    pub credentials: Option<Credentials>,
    /// Ordinary users: every stream but `$` streams, not `$all`.
    pub users: Vec<Credentials>,
    /// Serve over TLS with this identity.
    pub tls: Option<TlsIdentity>,
}

impl GrpcConfig {
    /// This configuration with the node's TLS identity, if it has one.
    pub fn with_tls(&self, tls: Option<TlsIdentity>) -> GrpcConfig {
        GrpcConfig {
            tls,
            ..self.clone()
        }
    }
}

/// A running protocol server; stops when shut down or dropped.
pub struct GrpcServer {
    local_addr: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

/// Binds `config.listen` and serves the protocol over `store` in the
/// background.
pub async fn serve(store: Arc<dyn EventStore>, config: GrpcConfig) -> anyhow::Result<GrpcServer> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen for gRPC on {}", config.listen))?;
    let local_addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let v2_streams = V2StreamsServer::new(V2Streams::new(
        Arc::clone(&store),
        v2::Limits {
            max_record_bytes: append::MAX_APPEND_BYTES,
            max_session_bytes: append::MAX_APPEND_BYTES,
        },
    ))
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let streams = StreamsServer::new(StreamsService::new(
        store,
        shutdown.clone(),
        append::MAX_APPEND_BYTES,
    ))
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let advertised_host = if local_addr.ip().is_unspecified() {
        "localhost".to_owned()
    } else {
        local_addr.ip().to_string()
    };
    let auth = Authenticate::new(config.credentials.as_ref(), &config.users);
    // Server features and gossip stay open, as on KurrentDB: clients call
    // them to connect and discover the leader before they send
    // credentials (the Rust client, and so a sidecar, never sends them on
    // these calls), and they tell nothing but the methods served and this
    // node's address.
    let router = Server::builder()
        .add_routes(absent::routes())
        .add_service(InterceptedService::new(streams, auth.clone()))
        .add_service(InterceptedService::new(v2_streams, auth))
        .add_service(ServerFeaturesServer::new(Features))
        .add_service(GossipServer::new(Gossip::new(
            advertised_host,
            local_addr.port(),
        )));
    // Small request/response exchanges (one append at a time) must wait
    // neither for Nagle's algorithm nor for delayed acknowledgements.
    let stop = shutdown.clone().cancelled_owned();
    let task = match &config.tls {
        // Handshakes are bounded in time and number, as on the API.
        Some(tls) => {
            let incoming = TlsIncoming::new(listener, tls.acceptor(), QuickAck::new);
            tokio::spawn(router.serve_with_incoming_shutdown(incoming, stop))
        }
        None => {
            let incoming = TcpListenerStream::new(listener).map(|stream| stream.map(QuickAck::new));
            tokio::spawn(router.serve_with_incoming_shutdown(incoming, stop))
        }
    };
    tracing::info!(
        listen = %local_addr,
        auth = config.credentials.is_some(),
        users = config.users.len(),
        tls = config.tls.is_some(),
        "KurrentDB gRPC protocol listening"
    );
    Ok(GrpcServer {
        local_addr,
        shutdown,
        task: Some(task),
    })
}

impl GrpcServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting calls, ends subscriptions with `unavailable` (clients
    /// reconnect), and waits for the calls in progress.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(SHUTDOWN_GRACE, task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the gRPC server failed"),
                Ok(Err(e)) => tracing::warn!(error = %e, "the gRPC server task failed"),
                Err(_) => tracing::warn!("the gRPC server did not stop in time"),
            }
        }
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
