//! The `connectors` command line: `serve` and `demo` run a node
//! ([`serve`]); every other command talks to a running node over its HTTP
//! API and prints what it answers.
//!
//! - [`client`]: the HTTP client (`--server`, the token, `--ca-file`) and
//!   its errors: the API's status and message, or why the node could not
//!   be reached;
//! - [`output`]: human tables (the default) or the API's JSON
//!   (`--output json`);
//! - one file per command group: [`connector`] (with [`apply`], which
//!   plans how the node's connectors come to match a directory of
//!   [`definition_file`]s),
//!   [`module`], [`preview`], [`dead_letters`], [`members`], and
//!   [`completions`] for shells;
//! - [`config_file`]: node settings from a TOML file (`serve --config`);
//! - [`logging`]: the logs of a node (`--log-format`, `--log-filter`).

pub mod apply;
pub mod client;
pub mod completions;
pub mod config_file;
pub mod connector;
pub mod dead_letters;
pub mod definition_file;
pub mod logging;
pub mod members;
pub mod module;
pub mod output;
pub mod preview;
pub mod serve;

use std::path::PathBuf;

pub use client::{ClientError, NodeClient};
pub use output::OutputFormat;

/// Where the node is and how to talk to it: the options every command that
/// talks to a node takes (anywhere on the command line).
#[derive(clap::Args, Debug, Clone)]
pub struct ClientArgs {
    /// The node's HTTP API.
    #[arg(
        long,
        global = true,
        env = "CONNECTORS_SERVER",
        default_value = "http://127.0.0.1:2119",
        value_name = "URL"
    )]
    pub server: String,
    /// A file holding the API token (sent as `Authorization: Bearer`);
    /// without it the token comes from the environment variable
    /// `CONNECTORS_TOKEN`, if set.
    #[arg(long, global = true, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// A PEM file of the certificate authority that signed the node's TLS
    /// certificate (for an `https://` server with its own CA).
    #[arg(long, global = true, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// How answers are printed: tables for people, or the API's JSON.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// The environment variable an API token is read from.
pub const TOKEN_ENV: &str = "CONNECTORS_TOKEN";

impl ClientArgs {
    /// A client for the node these arguments name.
    pub fn client(&self) -> Result<NodeClient, ClientError> {
        let token = match &self.token_file {
            Some(path) => Some(client::read_token_file(path)?),
            None => std::env::var(TOKEN_ENV)
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
        };
        NodeClient::new(&self.server, token, self.ca_file.as_deref())
    }
}
