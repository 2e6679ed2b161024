//! The command-line flags of access and transport: API tokens, gRPC users,
//! TLS and `--insecure`.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::AccessConfig;
use crate::api::access::{ApiTokens, Role};
use crate::grpc::{Credentials, GrpcConfig};

/// Who may use the node's listeners, and over what.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AccessArgs {
    /// An admin token for the HTTP API: requests must send
    /// `Authorization: Bearer <token>` (`/health` stays open). At least 16
    /// characters, e.g. `openssl rand -hex 32`.
    #[arg(
        long,
        env = "CONNECTORS_API_TOKEN",
        value_name = "TOKEN",
        value_parser = parse_admin_token,
        hide_env_values = true
    )]
    pub api_token: Option<ApiTokens>,
    /// A file of API tokens, one per line: `admin:<token>`, `read:<token>`
    /// (GET and HEAD only), `metrics:<token>` (GET /metrics only) or a bare
    /// token (admin); blank lines and `#` comments are skipped.
    #[arg(long, env = "CONNECTORS_API_TOKENS_FILE", value_name = "PATH")]
    pub api_tokens_file: Option<PathBuf>,
    /// The gRPC admin user (`user:password`, basic authentication): with it,
    /// every gRPC stream call needs credentials, and only this user may use
    /// `$`-prefixed streams and read `$all`.
    #[arg(
        long,
        env = "CONNECTORS_GRPC_CREDENTIALS",
        value_name = "USER:PASSWORD",
        value_parser = Credentials::parse,
        requires = "grpc_listen",
        hide_env_values = true
    )]
    pub grpc_credentials: Option<Credentials>,
    /// An ordinary gRPC user (`user:password`; repeat the flag for more):
    /// may read and write streams that do not start with `$`.
    #[arg(
        long = "grpc-user",
        value_name = "USER:PASSWORD",
        value_parser = Credentials::parse,
        requires = "grpc_credentials"
    )]
    pub grpc_users: Vec<Credentials>,
    /// PEM certificate chain: serve the API over HTTPS and the gRPC protocol
    /// over TLS.
    #[arg(
        long,
        env = "CONNECTORS_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(
        long,
        env = "CONNECTORS_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Allow listening on a non-loopback address without API tokens or gRPC
    /// credentials: anyone who can reach the node controls it.
    #[arg(long, env = "CONNECTORS_INSECURE")]
    pub insecure: bool,
}

impl AccessArgs {
    /// The access settings of a node.
    pub fn config(&self) -> AccessConfig {
        AccessConfig {
            api_tokens: self.api_token.clone().unwrap_or_default(),
            api_tokens_file: self.api_tokens_file.clone(),
            tls: self.tls_cert.clone().zip(self.tls_key.clone()),
            insecure: self.insecure,
        }
    }

    /// The gRPC settings for a protocol server on `listen`.
    pub fn grpc(&self, listen: SocketAddr) -> GrpcConfig {
        GrpcConfig {
            listen,
            credentials: self.grpc_credentials.clone(),
            users: self.grpc_users.clone(),
            tls: None,
        }
    }
}

fn parse_admin_token(value: &str) -> Result<ApiTokens, String> {
    let mut tokens = ApiTokens::default();
    tokens.add(value, Role::Admin).map_err(|e| e.to_string())?;
    Ok(tokens)
}
