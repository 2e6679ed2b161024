//! Secrets: connectors' credentials encrypted at rest, and kept out of every
//! answer and log line.
//!
//! - [`keyring`]: keys (32 bytes, named by a key id) and sealing with
//!   XChaCha20-Poly1305; a sealed value carries its key id, so keys rotate
//!   (the first key encrypts, the others only decrypt), and is bound to its
//!   connector and field by associated data ([`seal_context`]).
//! - [`setup`]: where the keys come from (`--secrets-key-file`,
//!   `CONNECTORS_SECRETS_KEY`, or a key an embedded node generates in its
//!   data directory); [`args`] holds the command-line flag.
//! - [`mask`]: hiding the secrets that ride in URLs (userinfo, query values).
//!
//! Which settings are secret, and the sealing of definitions on their way
//! into the store, live with the settings (`connector::secrets`).

pub mod args;
pub mod keyring;
pub mod mask;
pub mod setup;

pub use args::SecretsArgs;
pub use keyring::{is_sealed, Keyring, SecretKey, SecretsError, SEALED_PREFIX};
pub use mask::{mask_url, mask_urls, redact_in};
pub use setup::{open_keyring, SecretsConfig, SetupError};

/// What answers show instead of a secret.
pub const REDACTED: &str = "******";

/// The associated data that binds a sealed value to the connector and the
/// field it was sealed for, so it cannot be moved elsewhere.
pub fn seal_context(connector_id: &str, field: &str) -> String {
    format!("kurrent-connectors/secret\0{connector_id}\0{field}")
}
