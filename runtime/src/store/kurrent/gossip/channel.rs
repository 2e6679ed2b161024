//! The channel to one node for the gossip call: cleartext, or TLS as the
//! connection string says (its CA file, the system's roots, or no
//! certificate check at all with `tlsVerifyCert=false`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use kurrentdb::{ClientSettings, Endpoint};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Uri};

use super::members::{display, unbracketed};
use super::{GossipError, GOSSIP_DEADLINE};

/// A connected channel to `node`, TLS as the settings say.
pub(super) async fn channel(
    settings: &ClientSettings,
    node: &Endpoint,
) -> Result<Channel, GossipError> {
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
