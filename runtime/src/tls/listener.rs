//! TLS listeners for both servers: accept TCP connections and run the
//! handshakes concurrently (each within a time limit, a bounded number at
//! once), so a client that stalls its handshake delays nobody else and
//! holds its connection for a bounded time. [`TlsListener`] feeds the HTTP
//! API (`axum::serve`); [`TlsIncoming`] feeds the gRPC server (tonic's
//! `serve_with_incoming`).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; further connections wait to be accepted.
const MAX_HANDSHAKES: usize = 256;

/// Finished handshakes waiting for the server.
const READY_BUFFER: usize = 64;

/// Connections that finished their TLS handshake, as `axum::serve` takes
/// them.
pub struct TlsListener {
    ready: Handshakes<TcpStream>,
    local_addr: SocketAddr,
}

impl TlsListener {
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        Ok(Self {
            ready: Handshakes::start(listener, acceptor, |tcp| tcp, "API"),
            local_addr,
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.ready.recv().await {
            Some(connection) => connection,
            // The accept loop never ends by itself.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}

/// Connections that finished their TLS handshake, as a stream for tonic;
/// each TCP connection is first wrapped by the function given (e.g. to set
/// socket options).
pub struct TlsIncoming<Io> {
    ready: Handshakes<Io>,
}

impl<Io> TlsIncoming<Io>
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor, wrap: fn(TcpStream) -> Io) -> Self {
        Self {
            ready: Handshakes::start(listener, acceptor, wrap, "gRPC"),
        }
    }
}

impl<Io> futures::Stream for TlsIncoming<Io> {
    type Item = std::io::Result<TlsStream<Io>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.ready
            .ready
            .poll_recv(cx)
            .map(|connection| connection.map(|(stream, _)| Ok(stream)))
    }
}

/// The accept loop and the connections it has ready; the loop stops when
/// this is dropped.
struct Handshakes<Io> {
    ready: mpsc::Receiver<(TlsStream<Io>, SocketAddr)>,
    task: JoinHandle<()>,
}

impl<Io> Handshakes<Io>
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn start(
        listener: TcpListener,
        acceptor: TlsAcceptor,
        wrap: fn(TcpStream) -> Io,
        what: &'static str,
    ) -> Self {
        let (tx, ready) = mpsc::channel(READY_BUFFER);
        let task = tokio::spawn(accept_loop(listener, acceptor, wrap, tx, what));
        Self { ready, task }
    }
}

impl<Io> Drop for Handshakes<Io> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop<Io>(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    wrap: fn(TcpStream) -> Io,
    ready: mpsc::Sender<(TlsStream<Io>, SocketAddr)>,
    what: &'static str,
) where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = Arc::clone(&handshakes).acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait, as axum does.
                tracing::warn!(error = %e, listener = what, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let io = wrap(tcp);
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
                Ok(Ok(stream)) => {
                    let _ = ready.send((stream, peer)).await;
                }
                Ok(Err(e)) => {
                    tracing::debug!(%peer, listener = what, error = %e, "TLS handshake failed")
                }
                Err(_) => tracing::debug!(%peer, listener = what, "TLS handshake timed out"),
            }
        });
    }
}
