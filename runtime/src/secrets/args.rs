//! The command-line settings of secrets.

use std::path::PathBuf;

use super::setup::{SecretsConfig, KEYS_ENV};

/// Where the keys that encrypt connectors' secrets come from.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SecretsArgs {
    /// A file of keys that encrypt connectors' secrets: the base64 of 32
    /// random bytes per line; the first line encrypts, the others only
    /// decrypt (rotation). Keys may also be given in `CONNECTORS_SECRETS_KEY`.
    /// An embedded node given none generates `<data>/secrets.key`.
    #[arg(long, env = "CONNECTORS_SECRETS_KEY_FILE", value_name = "PATH")]
    pub secrets_key_file: Option<PathBuf>,
}

impl SecretsArgs {
    /// The settings, with the keys of `CONNECTORS_SECRETS_KEY` if it is set
    /// (keys are not taken on the command line, where `ps` would show them).
    pub fn config(self) -> SecretsConfig {
        SecretsConfig {
            key_file: self.secrets_key_file,
            keys: std::env::var(KEYS_ENV)
                .ok()
                .filter(|keys| !keys.trim().is_empty()),
        }
    }
}
