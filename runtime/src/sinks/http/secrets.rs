//! Secrets in the HTTP sink's settings: hiding them from readers and keeping
//! them when a reader sends the settings back.
//!
//! Secrets are the basic-auth password, the bearer token, and the values of
//! extra headers whose name looks like a credential: `authorization`,
//! `proxy-authorization`, `cookie`, or any name containing `token`, `secret`,
//! `key`, `password`, `auth` or `signature` (e.g. `x-api-key`).
//!
//! [`HttpSinkConfig::keep_secrets_from`] puts back a secret given as
//! [`REDACTED`] from the previous settings when the previous settings had the
//! same kind of secret (the same auth type, a header of the same name),
//! whatever else changed.

use super::config::{HttpAuth, HttpSinkConfig};
use crate::sinks::REDACTED;

/// Whether the value of header `name` is treated as a secret.
pub fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie"
    ) || ["token", "secret", "key", "password", "auth", "signature"]
        .iter()
        .any(|word| name.contains(word))
}

impl HttpSinkConfig {
    /// The settings with every secret replaced by [`REDACTED`].
    pub fn redacted(&self) -> Self {
        let mut shown = self.clone();
        shown.auth = match &self.auth {
            Some(HttpAuth::Basic { username, .. }) => Some(HttpAuth::Basic {
                username: username.clone(),
                password: REDACTED.into(),
            }),
            Some(HttpAuth::Bearer { .. }) => Some(HttpAuth::Bearer {
                token: REDACTED.into(),
            }),
            None => None,
        };
        for (name, value) in &mut shown.headers {
            if is_sensitive_header(name) {
                *value = REDACTED.into();
            }
        }
        shown
    }

    /// Fills secrets given as [`REDACTED`] from `previous`.
    pub fn keep_secrets_from(&mut self, previous: &HttpSinkConfig) {
        match (&mut self.auth, &previous.auth) {
            (
                Some(HttpAuth::Basic { password, .. }),
                Some(HttpAuth::Basic { password: old, .. }),
            ) if password == REDACTED => password.clone_from(old),
            (Some(HttpAuth::Bearer { token }), Some(HttpAuth::Bearer { token: old }))
                if token == REDACTED =>
            {
                token.clone_from(old)
            }
            _ => {}
        }
        for (name, value) in &mut self.headers {
            if value == REDACTED && is_sensitive_header(name) {
                if let Some(old) = previous.headers.get(name) {
                    value.clone_from(old);
                }
            }
        }
    }
}
