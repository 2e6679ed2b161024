//! The secrets of a definition: which settings they are, sealing them on
//! the way into the store and opening them on the way out, redacting them
//! in answers, and keeping them when a client sends them back redacted.
//!
//! Secret settings: the HTTP sink's `auth` password or token and its secret
//! headers, a custom sink's `secrets`, and each transform stage's
//! `secrets`. Each is sealed with the node's [`Keyring`], bound to the
//! connector id and the field path (`sink.auth.token`,
//! `transforms[0].secrets.key`...). A value stored in clear by an older
//! version still loads, and is sealed when the connector is next changed.

use super::{ConnectorDefinition, ConnectorId};
use crate::secrets::{is_sealed, seal_context, Keyring, SecretsError, REDACTED};
use crate::sinks::wasm::secrets::{keep_redacted, secret_fields_mut};
use crate::sinks::ConfigError;

/// A secret that could not be sealed or opened, with its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {reason}")]
pub struct SecretFieldError {
    /// The setting's path, e.g. `sink.auth.token`.
    pub field: String,
    pub reason: SecretsError,
}

impl ConnectorDefinition {
    /// Every secret value with its field path.
    pub fn secret_fields_mut(&mut self) -> Vec<(String, &mut String)> {
        let mut fields = self.sink.secret_fields_mut();
        for (i, transform) in self.transforms.iter_mut().enumerate() {
            fields.extend(secret_fields_mut(
                &format!("transforms[{i}]"),
                &mut transform.secrets,
            ));
        }
        fields
    }

    /// The values of the secrets, to hide them wherever text from outside
    /// (a destination's answer, a component's message) is shown.
    pub fn secret_values(&self) -> Vec<String> {
        let mut copy = self.clone();
        copy.secret_fields_mut()
            .into_iter()
            .map(|(_, value)| value.clone())
            .filter(|value| !value.is_empty() && value != REDACTED)
            .collect()
    }

    /// The definition with every secret replaced by [`REDACTED`].
    pub fn redacted(&self) -> Self {
        let mut shown = self.clone();
        for (_, value) in shown.secret_fields_mut() {
            *value = REDACTED.into();
        }
        shown
    }

    /// Fills secrets sent back as [`REDACTED`] from `previous` where the
    /// destination they protect is unchanged: the sink's URL (scheme, host,
    /// port), a custom sink's module and allowed hosts, a stage's module
    /// (stages are matched by position). A changed destination is an error
    /// naming the field.
    pub fn keep_secrets_from(&mut self, previous: &ConnectorDefinition) -> Result<(), ConfigError> {
        self.sink.keep_secrets_from(&previous.sink)?;
        for (i, (transform, stored)) in self
            .transforms
            .iter_mut()
            .zip(&previous.transforms)
            .enumerate()
        {
            keep_redacted(
                &format!("transforms[{i}]"),
                &mut transform.secrets,
                &stored.secrets,
                &format!("module {}", transform.module.name()),
                &format!("module {}", stored.module.name()),
            )?;
        }
        Ok(())
    }

    /// Refuses secrets given as the placeholder with nothing to keep, and
    /// values that look sealed (only the node seals).
    pub(super) fn validate_secret_values(&self) -> Result<(), ConfigError> {
        let mut copy = self.clone();
        for (field, value) in copy.secret_fields_mut() {
            if value == REDACTED {
                return Err(ConfigError::new(
                    field,
                    format!("is the redacted placeholder `{REDACTED}` and there is no stored secret to keep; give the secret itself"),
                ));
            }
            if is_sealed(value) {
                return Err(ConfigError::new(
                    field,
                    "looks like an encrypted value (`sealed:v1:...`), which only the node writes; give the secret itself, e.g. `s3cret`",
                ));
            }
        }
        Ok(())
    }

    /// Seals every secret still in clear.
    pub fn seal_secrets(
        &mut self,
        keyring: &Keyring,
        id: &ConnectorId,
    ) -> Result<(), SecretFieldError> {
        for (field, value) in self.secret_fields_mut() {
            if is_sealed(value) {
                continue;
            }
            *value = keyring
                .seal(value, &seal_context(id.as_str(), &field))
                .map_err(|reason| SecretFieldError { field, reason })?;
        }
        Ok(())
    }

    /// Opens every sealed secret; values in clear (stored by an older
    /// version) stay as they are.
    pub fn open_secrets(
        &mut self,
        keyring: &Keyring,
        id: &ConnectorId,
    ) -> Result<(), SecretFieldError> {
        for (field, value) in self.secret_fields_mut() {
            if !is_sealed(value) {
                continue;
            }
            *value = keyring
                .open(value, &seal_context(id.as_str(), &field))
                .map_err(|reason| SecretFieldError { field, reason })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::secrets::SecretKey;

    fn definition() -> ConnectorDefinition {
        serde_json::from_value(json!({
            "sink": { "type": "http", "url": "https://a.example/hook",
                      "auth": { "type": "basic", "username": "u", "password": "password-in-clear" },
                      "headers": { "x-api-key": "api-key-in-clear", "x-sig": { "secret": "signature-in-clear" }, "x-source": "orders" } },
            "transforms": [ { "module": "redact", "config": { "remove": ["card"] }, "secrets": { "salt": "salt-in-clear" } } ]
        }))
        .expect("definition")
    }

    fn id(name: &str) -> ConnectorId {
        ConnectorId::parse(name).expect("id")
    }

    #[test]
    fn sealed_definitions_hold_no_secret_and_open_back() {
        let keyring = Keyring::new(vec![SecretKey::generate().0]);
        let mut sealed = definition();
        sealed.seal_secrets(&keyring, &id("c")).expect("seal");
        let text = serde_json::to_string(&sealed).expect("json");
        for secret in [
            "password-in-clear",
            "api-key-in-clear",
            "signature-in-clear",
            "salt-in-clear",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("orders") && text.contains("card"));
        let mut opened = sealed.clone();
        opened.open_secrets(&keyring, &id("c")).expect("open");
        assert_eq!(opened, definition());

        let mut moved = sealed.clone();
        let error = moved
            .open_secrets(&keyring, &id("other"))
            .expect_err("other connector");
        assert_eq!(error.field, "sink.auth.password");

        let debug = format!("{:?}", definition());
        for secret in [
            "password-in-clear",
            "api-key-in-clear",
            "signature-in-clear",
            "salt-in-clear",
        ] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }

        let mut legacy = definition();
        legacy
            .open_secrets(&keyring, &id("c"))
            .expect("values in clear load");
        assert_eq!(legacy, definition());
    }

    #[test]
    fn validation_refuses_placeholders_sealed_values_and_names_in_both() {
        let keyring = Keyring::new(vec![SecretKey::generate().0]);
        let mut sealed = definition();
        sealed.seal_secrets(&keyring, &id("c")).expect("seal");
        let error = sealed.validate().expect_err("sealed given by a user");
        assert!(error.message.contains("encrypted value"), "{error}");

        let mut placeholder = definition();
        placeholder.transforms[0]
            .secrets
            .insert("salt".into(), REDACTED.into());
        assert_eq!(
            placeholder.validate().expect_err("placeholder").field,
            "transforms[0].secrets.salt"
        );

        let mut both = definition();
        both.transforms[0]
            .secrets
            .insert("remove".into(), "x".into());
        assert_eq!(
            both.validate().expect_err("both").field,
            "transforms[0].secrets.remove"
        );
        assert_eq!(definition().validate(), Ok(()));
    }

    /// A definition written before secrets were sealed loads as it is, and
    /// the next change stores it sealed.
    #[tokio::test]
    async fn definitions_stored_in_clear_still_load_and_are_sealed_on_the_next_change() {
        use std::sync::Arc;

        use crate::connector::{Command, ConnectorEvent, ConnectorRepository};
        use crate::store::embedded::SqliteStore;
        use crate::store::{Direction, EventStore, ExpectedRevision, StreamStart};

        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteStore::open(&dir.path().join("events.db")).expect("store"));
        let id = id("legacy");
        let created = ConnectorEvent::Created {
            definition: definition(),
            enabled: false,
            round: 0,
            end_at: None,
            name: None,
        };
        store
            .append(
                &id.stream(),
                ExpectedRevision::NoStream,
                vec![created.to_new_event()],
            )
            .await
            .expect("append a definition in clear");
        let keyring = Arc::new(Keyring::new(vec![SecretKey::generate().0]));
        let repository = ConnectorRepository::new(Arc::clone(&store)).with_keyring(keyring);
        let loaded = repository.load(&id).await.expect("load").expect("exists");
        assert_eq!(loaded.definition, definition());

        let mut changed = definition();
        changed.checkpoint.every_events = 7;
        let state = repository
            .execute(
                &id,
                Command::Reconfigure {
                    definition: changed.clone(),
                },
            )
            .await
            .expect("reconfigure");
        assert_eq!(state.definition, changed, "answers hold the secrets opened");
        let events = store
            .read_stream(&id.stream(), Direction::Forwards, StreamStart::Start, 10)
            .await
            .expect("read");
        let latest = String::from_utf8_lossy(&events[1].data).into_owned();
        assert!(latest.contains("sealed:v1:"), "{latest}");
        for secret in [
            "password-in-clear",
            "api-key-in-clear",
            "signature-in-clear",
            "salt-in-clear",
        ] {
            assert!(!latest.contains(secret), "{secret} in {latest}");
        }
    }

    #[test]
    fn stage_secrets_stay_with_their_module() {
        let stored = definition();
        let mut same = stored.redacted();
        same.keep_secrets_from(&stored).expect("same module");
        assert_eq!(same, stored);
        let mut other = stored.redacted();
        other.transforms[0].module = crate::modules::ModuleRef::parse("fan-out").expect("module");
        let error = other.keep_secrets_from(&stored).expect_err("other module");
        assert_eq!(error.field, "transforms[0].secrets.salt");
        assert!(
            error
                .message
                .contains("from `module redact` to `module fan-out`"),
            "{error}"
        );
    }
}
