//! TLS for both listeners (`--tls-cert`, `--tls-key`; rustls with the
//! `ring` provider): the node's identity, loaded and checked once at
//! start-up ([`identity`]), and the listeners that run handshakes bounded
//! in time and number ([`listener`]) for the HTTP API and the gRPC server.

pub mod identity;
pub mod listener;

pub use identity::{TlsError, TlsIdentity};
pub use listener::{TlsIncoming, TlsListener};
