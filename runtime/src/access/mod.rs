//! Who may reach the node's listeners, and over what.
//!
//! - [`args`]: the flags (`--api-token`, `--api-tokens-file`,
//!   `--grpc-credentials`, `--grpc-user`, `--tls-cert`, `--tls-key`,
//!   `--insecure`), turned into an [`AccessConfig`];
//! - [`prepare`], at start-up: loads the tokens file and the TLS identity
//!   and applies the exposure rule: a listener on a non-loopback address
//!   needs authentication (API tokens; gRPC credentials) unless the node is
//!   started with `--insecure`, which is logged loudly. TLS is not
//!   authentication and does not lift the rule;
//! - the TLS identity itself and its listeners live in [`crate::tls`].
//!
//! The checks of each request live with each listener: `api::access` for
//! the API, `grpc::auth` for the gRPC protocol.

mod args;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use args::AccessArgs;

use crate::api::access::{ApiAccess, ApiTokens, TokenError};
use crate::grpc::GrpcConfig;
use crate::tls::{TlsError, TlsIdentity};

/// The access settings of a node.
#[derive(Debug, Clone, Default)]
pub struct AccessConfig {
    /// API tokens given directly (`--api-token`).
    pub api_tokens: ApiTokens,
    /// A file of more API tokens, read at start-up.
    pub api_tokens_file: Option<PathBuf>,
    /// Certificate and key PEM files.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Allow unauthenticated non-loopback listeners.
    pub insecure: bool,
}

/// Why a node refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Tokens(#[from] TokenError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the {what} would listen on {listen}, a network address, without authentication: {fix}, listen on a loopback address (e.g. `{example}`), or start with `--insecure` to let anyone who reaches it control the node")]
    Exposed {
        what: &'static str,
        listen: SocketAddr,
        fix: &'static str,
        example: String,
    },
}

/// What the listeners need, checked and loaded.
#[derive(Debug, Clone, Default)]
pub struct PreparedAccess {
    /// The API's access checks.
    pub api: ApiAccess,
    /// The TLS identity of both listeners.
    pub tls: Option<TlsIdentity>,
}

/// Loads the tokens file and TLS identity and refuses listeners that would
/// be reachable from the network without authentication.
pub fn prepare(
    config: &AccessConfig,
    api_listen: SocketAddr,
    grpc: Option<&GrpcConfig>,
) -> Result<PreparedAccess, AccessError> {
    let mut tokens = config.api_tokens.clone();
    if let Some(path) = &config.api_tokens_file {
        tokens.add_file(path)?;
    }
    let tls = match &config.tls {
        Some((cert, key)) => Some(TlsIdentity::load(cert, key)?),
        None => None,
    };
    let mut open = Vec::new();
    if tokens.is_empty() && !api_listen.ip().is_loopback() {
        open.push(exposed(
            "management API",
            api_listen,
            "set API tokens (`--api-token`, `CONNECTORS_API_TOKEN` or `--api-tokens-file`)",
            "--listen",
        ));
    }
    if let Some(grpc) = grpc.filter(|g| g.credentials.is_none() && !g.listen.ip().is_loopback()) {
        open.push(exposed(
            "gRPC protocol",
            grpc.listen,
            "set the admin user with `--grpc-credentials user:password`",
            "--grpc-listen",
        ));
    }
    if config.insecure {
        warn_insecure(&open);
    } else if let Some(refusal) = open.into_iter().next() {
        return Err(refusal);
    }
    Ok(PreparedAccess {
        api: ApiAccess {
            tokens,
            loopback_listener: api_listen.ip().is_loopback(),
        },
        tls,
    })
}

fn exposed(what: &'static str, listen: SocketAddr, fix: &'static str, flag: &str) -> AccessError {
    let loopback = if listen.is_ipv6() {
        "[::1]"
    } else {
        "127.0.0.1"
    };
    AccessError::Exposed {
        what,
        listen,
        fix,
        example: format!("{flag} {loopback}:{}", listen.port()),
    }
}

fn warn_insecure(open: &[AccessError]) {
    let exposed: Vec<String> = open
        .iter()
        .map(|e| match e {
            AccessError::Exposed { what, listen, .. } => format!("{what} on {listen}"),
            other => other.to_string(),
        })
        .collect();
    tracing::warn!(
        unauthenticated = ?exposed,
        "\n==================================================================\n\
         INSECURE MODE (--insecure): listeners on network addresses may run\n\
         without authentication; anyone who reaches them controls the node,\n\
         its connectors and their secrets. Do not run like this in production.\n\
         =================================================================="
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::access::Role;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn grpc(listen: &str, admin: bool) -> GrpcConfig {
        GrpcConfig {
            listen: addr(listen),
            credentials: admin.then(|| crate::grpc::Credentials::parse("admin:changeit").unwrap()),
            users: Vec::new(),
            tls: None,
        }
    }

    #[test]
    fn loopback_listeners_need_nothing() {
        let config = AccessConfig::default();
        let prepared = prepare(
            &config,
            addr("127.0.0.1:2119"),
            Some(&grpc("[::1]:2113", false)),
        )
        .unwrap();
        assert!(prepared.api.loopback_listener);
        assert!(prepared.api.tokens.is_empty());
    }

    #[test]
    fn network_listeners_need_authentication_or_insecure() {
        let config = AccessConfig::default();
        let error = prepare(&config, addr("0.0.0.0:2119"), None).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("management API would listen on 0.0.0.0:2119"),
            "{message}"
        );
        assert!(
            message.contains("--insecure") && message.contains("--api-token"),
            "{message}"
        );
        assert!(message.contains("--listen 127.0.0.1:2119"), "{message}");

        let error = prepare(
            &config,
            addr("127.0.0.1:2119"),
            Some(&grpc("0.0.0.0:2113", false)),
        )
        .unwrap_err();
        assert!(error.to_string().contains("--grpc-credentials"), "{error}");
        assert!(prepare(
            &config,
            addr("127.0.0.1:2119"),
            Some(&grpc("0.0.0.0:2113", true))
        )
        .is_ok());

        let mut with_token = AccessConfig::default();
        with_token
            .api_tokens
            .add("0123456789abcdef0123", Role::Admin)
            .unwrap();
        let prepared = prepare(&with_token, addr("0.0.0.0:2119"), None).unwrap();
        assert!(!prepared.api.loopback_listener);

        let insecure = AccessConfig {
            insecure: true,
            ..AccessConfig::default()
        };
        assert!(prepare(
            &insecure,
            addr("0.0.0.0:2119"),
            Some(&grpc("0.0.0.0:2113", false))
        )
        .is_ok());
    }

    #[test]
    fn a_missing_tokens_file_is_named() {
        let config = AccessConfig {
            api_tokens_file: Some(PathBuf::from("/nonexistent/tokens")),
            ..AccessConfig::default()
        };
        let error = prepare(&config, addr("127.0.0.1:2119"), None).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/tokens"), "{error}");
    }
}
