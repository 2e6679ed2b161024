//! Connection strings and the shared client.
//!
//! [`parse_settings`] turns a connection string into the client's
//! [`ClientSettings`], reporting errors without the password. [`Connection`]
//! owns the current [`Client`] and replaces it when its internal connection
//! task has died (the client ends that task for good when node discovery
//! fails, e.g. when the first request finds the server down; every later
//! request would then fail with "connection closed").

use std::sync::Mutex;

use kurrentdb::{Client, ClientSettings};

use crate::store::StoreError;

/// Parses `connection_string` (`esdb://`, `esdb+discover://`, `kurrentdb://`,
/// `kurrentdb+discover://`, ...) into client settings.
pub(super) fn parse_settings(connection_string: &str) -> Result<ClientSettings, StoreError> {
    connection_string
        .trim()
        .parse::<ClientSettings>()
        .map_err(|e| {
            let password = password(connection_string);
            let mut detail = match e.error() {
                Some(url_error) => url_error.to_string(),
                None => e.message().to_owned(),
            };
            let echoes_password = password.is_some_and(|p| detail.contains(p));
            if echoes_password || detail.contains(connection_string.trim()) {
                detail = "malformed connection string".to_owned();
            }
            if connection_string.contains("://") {
                StoreError::InvalidRequest(format!(
                    "invalid KurrentDB connection string `{}`: {detail}",
                    redact(connection_string)
                ))
            } else {
                // Without a scheme we cannot tell where a password would be:
                // do not echo the string at all.
                StoreError::InvalidRequest(format!(
                    "invalid KurrentDB connection string: {detail} (expected \
                     esdb://, esdb+discover://, kurrentdb:// or kurrentdb+discover://)"
                ))
            }
        })
}

/// The `user:password@` part of the authority, if any, as (user, password).
fn user_info(connection_string: &str) -> Option<(usize, usize)> {
    let authority_start = connection_string.find("://").map_or(0, |i| i + 3);
    let rest = &connection_string[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let at = authority.rfind('@')?;
    Some((authority_start, authority_start + at))
}

/// The password of the connection string, if it has one.
fn password(connection_string: &str) -> Option<&str> {
    let (start, end) = user_info(connection_string)?;
    let info = &connection_string[start..end];
    let colon = info.find(':')?;
    Some(&info[colon + 1..]).filter(|p| !p.is_empty())
}

/// The `user:password` of the connection string, if it has both.
pub(super) fn credentials(connection_string: &str) -> Option<(String, String)> {
    let (start, end) = user_info(connection_string)?;
    let (user, password) = connection_string[start..end].split_once(':')?;
    (!user.is_empty() && !password.is_empty()).then(|| (user.to_owned(), password.to_owned()))
}

/// The connection string with its password replaced by `***`.
pub(super) fn redact(connection_string: &str) -> String {
    match user_info(connection_string) {
        Some((start, end)) => {
            let info = &connection_string[start..end];
            match info.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &connection_string[..start],
                    &info[..colon],
                    &connection_string[end..]
                ),
                None => connection_string.to_owned(),
            }
        }
        None => connection_string.to_owned(),
    }
}

/// The current client and a generation number that identifies it.
pub(super) struct Connection {
    settings: ClientSettings,
    current: Mutex<(u64, Client)>,
}

impl Connection {
    /// Creates the client (no network traffic yet). Must run inside a tokio
    /// runtime, which the client's background tasks use.
    pub(super) fn new(settings: ClientSettings) -> Result<Self, StoreError> {
        let client = new_client(&settings)?;
        Ok(Self {
            settings,
            current: Mutex::new((0, client)),
        })
    }

    pub(super) fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// The current client and its generation.
    pub(super) fn client(&self) -> (u64, Client) {
        let guard = self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (guard.0, guard.1.clone())
    }

    /// Replaces the client of `generation` (if it is still the current one)
    /// by a fresh one.
    pub(super) fn reset(&self, generation: u64) {
        if self.client().0 != generation {
            return;
        }
        // Built outside the lock: creating a client loads certificates.
        let client = match new_client(&self.settings) {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(error = %e, "could not recreate the KurrentDB client");
                return;
            }
        };
        let mut guard = self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.0 == generation {
            tracing::debug!(generation = generation + 1, "replaced the KurrentDB client");
            *guard = (generation + 1, client);
        }
    }
}

fn new_client(settings: &ClientSettings) -> Result<Client, StoreError> {
    let handle = tokio::runtime::Handle::try_current().map_err(|_| {
        StoreError::InvalidRequest(
            "the KurrentDB store must be created inside a tokio runtime".into(),
        )
    })?;
    Client::with_runtime_handle(handle, settings.clone())
        .map_err(|e| StoreError::InvalidRequest(format!("cannot create the KurrentDB client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password() {
        assert_eq!(
            redact("esdb://admin:changeit@localhost:2113?tls=false"),
            "esdb://admin:***@localhost:2113?tls=false"
        );
        assert_eq!(
            redact("esdb://admin:p@ss@h1:2113,h2:2113"),
            "esdb://admin:***@h1:2113,h2:2113"
        );
        assert_eq!(redact("esdb://localhost:2113"), "esdb://localhost:2113");
        assert_eq!(redact("esdb://admin@localhost"), "esdb://admin@localhost");
        assert_eq!(redact("admin:x@localhost"), "admin:***@localhost");
        assert_eq!(
            redact("esdb://host/?a=b@c:d"),
            "esdb://host/?a=b@c:d",
            "an @ after the authority is not user info"
        );
    }

    #[test]
    fn finds_the_credentials() {
        assert_eq!(
            credentials("esdb://admin:changeit@h:1?tls=false"),
            Some(("admin".to_owned(), "changeit".to_owned()))
        );
        assert_eq!(credentials("esdb://admin@h:1"), None);
        assert_eq!(credentials("esdb://h:1"), None);
    }

    #[test]
    fn finds_the_password() {
        assert_eq!(password("esdb://u:secret@h:1"), Some("secret"));
        assert_eq!(password("esdb://u:@h:1"), None);
        assert_eq!(password("esdb://u@h:1"), None);
        assert_eq!(password("esdb://h:1"), None);
    }

    #[test]
    fn parse_errors_do_not_echo_the_password() {
        for bad in [
            "esdb://admin:hunter2-secret@localhost:2113?tls=maybe",
            "http://admin:hunter2-secret@localhost:2113",
            "esdb://admin:hunter2-secret@h1:2113,h2:port",
            "esdb://admin:hunter2-secret@:2113",
            "esdb://admin:hunter2-secret@localhost:99999",
            "esdb://admin:hunter2-secret@localhost:2113/path",
        ] {
            match parse_settings(bad) {
                Err(StoreError::InvalidRequest(message)) => {
                    assert!(
                        !message.contains("hunter2-secret"),
                        "{bad}: the message echoes the password: {message}"
                    );
                    assert!(message.contains("***"), "{bad}: {message}");
                }
                other => panic!("{bad}: expected InvalidRequest, got {other:?}"),
            }
        }
        match parse_settings("admin:hunter2-secret") {
            Err(StoreError::InvalidRequest(message)) => {
                assert!(!message.contains("hunter2-secret"), "{message}")
            }
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_usual_forms() {
        for good in [
            "esdb://localhost:2113?tls=false",
            "esdb://admin:changeit@localhost:2113?tls=false",
            "esdb+discover://admin:changeit@cluster.example.com:2113",
            "kurrentdb://h1:2113,h2:2113,h3:2113?tls=true&tlsVerifyCert=false",
            "kurrentdb+discover://admin:changeit@h1:2113,h2:2113?nodePreference=leader",
        ] {
            if let Err(e) = parse_settings(good) {
                panic!("{good}: {e}");
            }
        }
        let settings = parse_settings("esdb://h1:1113,h2:2113?tls=false").expect("parse");
        assert_eq!(settings.hosts().len(), 2);
        assert!(!settings.is_secure_mode_enabled());
    }
}
