//! The node's TLS identity (`--tls-cert`, `--tls-key`, PEM), loaded and
//! checked once at start-up and used by both listeners through
//! [`TlsIdentity::acceptor`] (the handshakes run in [`super::listener`]).
//! rustls with the `ring` provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate or key that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {what} {path}: {reason}")]
    Unreadable {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "the TLS certificate file {0} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)"
    )]
    NoCertificate(PathBuf),
    #[error("the TLS key file {path} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {reason}")]
    NoKey { path: PathBuf, reason: String },
    #[error(
        "the TLS key {key} does not belong to the certificate {cert} (or cannot be used): {reason}"
    )]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// A loaded certificate chain and its private key.
#[derive(Clone)]
pub struct TlsIdentity {
    server: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsIdentity(..)")
    }
}

impl TlsIdentity {
    /// Reads and checks the PEM files: at least one certificate, a private
    /// key, and the key matching the first certificate.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        install_ring_provider();
        let cert_pem = read(cert, "certificate")?;
        let key_pem = read(key, "key")?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .filter_map(Result::ok)
            .collect();
        if chain.is_empty() {
            return Err(TlsError::NoCertificate(cert.to_owned()));
        }
        let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::NoKey {
            path: key.to_owned(),
            reason: e.to_string(),
        })?;
        let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private_key))
        .map_err(|e| TlsError::Mismatch {
            cert: cert.to_owned(),
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            server: Arc::new(server),
        })
    }

    /// Accepts TLS connections (HTTP/2, or HTTP/1.1 for the API).
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.server))
    }
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Unreadable {
        what,
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Makes `ring` the process's rustls provider. Two providers are compiled
/// in (a dependency brings the other), and rustls then picks none by
/// itself for configurations built with the process default.
fn install_ring_provider() {
    // An error means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
