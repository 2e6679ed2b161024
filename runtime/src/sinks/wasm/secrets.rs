//! Secrets of WebAssembly components (custom sinks and transform stages):
//! a `"secrets"` object of strings beside `"config"`. The component's
//! `init` receives `config` with `secrets` merged in; the store keeps the
//! secrets sealed and the API shows them as [`REDACTED`].

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Serialize};

use crate::sinks::http::secrets::destination_changed;
use crate::sinks::{ConfigError, REDACTED};

/// A component's secrets: name -> value. `Debug` shows only the names.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ComponentSecrets(BTreeMap<String, String>);

impl ComponentSecrets {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for ComponentSecrets {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for ComponentSecrets {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl FromIterator<(String, String)> for ComponentSecrets {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Debug for ComponentSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|name| (name, REDACTED)))
            .finish()
    }
}

/// Checks that no secret is unnamed or also given in `config`. `field` is
/// the component's path, e.g. `transforms[0]` or `sink`.
pub fn validate_secrets(
    field: &str,
    config: &serde_json::Map<String, serde_json::Value>,
    secrets: &ComponentSecrets,
) -> Result<(), ConfigError> {
    for name in secrets.keys() {
        if name.is_empty() {
            return Err(ConfigError::new(
                format!("{field}.secrets"),
                "has a secret without a name; name each one, e.g. `{\"secret\": \"s3cret\"}`",
            ));
        }
        if config.contains_key(name) {
            return Err(ConfigError::new(
                format!("{field}.secrets.{name}"),
                format!("is also in `{field}.config`; give each setting in one place, e.g. remove `{name}` from `config`"),
            ));
        }
    }
    Ok(())
}

/// What the component's `init` receives: `config` with `secrets` merged in.
pub fn init_settings(
    config: &serde_json::Map<String, serde_json::Value>,
    secrets: &ComponentSecrets,
) -> String {
    let mut settings = config.clone();
    for (name, value) in secrets.iter() {
        settings.insert(name.clone(), serde_json::Value::String(value.clone()));
    }
    serde_json::Value::Object(settings).to_string()
}

/// The secrets with their field paths, e.g. `sink.secrets.key`.
pub fn secret_fields_mut<'a>(
    field: &str,
    secrets: &'a mut ComponentSecrets,
) -> Vec<(String, &'a mut String)> {
    secrets
        .0
        .iter_mut()
        .map(|(name, value)| (format!("{field}.secrets.{name}"), value))
        .collect()
}

/// Fills secrets given as [`REDACTED`] from `stored` when the destination
/// (the module, and a sink's allowed hosts) is unchanged; refuses a changed
/// destination naming the field. Placeholders with nothing stored are left
/// for validation to refuse.
pub fn keep_redacted(
    field: &str,
    secrets: &mut ComponentSecrets,
    stored: &ComponentSecrets,
    destination: &str,
    stored_destination: &str,
) -> Result<(), ConfigError> {
    for (name, value) in secrets.iter_mut() {
        let Some(kept) = stored.get(name).filter(|_| value == REDACTED) else {
            continue;
        };
        if destination != stored_destination {
            return Err(destination_changed(
                &format!("{field}.secrets.{name}"),
                stored_destination,
                destination,
            ));
        }
        value.clone_from(kept);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn secrets(pairs: &[(&str, &str)]) -> ComponentSecrets {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn init_sees_config_and_secrets_and_a_name_in_both_is_refused() {
        let config = json!({ "url": "http://h/x" })
            .as_object()
            .cloned()
            .expect("object");
        let settings = init_settings(&config, &secrets(&[("secret", "s3cret")]));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&settings).expect("json"),
            json!({ "url": "http://h/x", "secret": "s3cret" })
        );
        let error = validate_secrets("sink", &config, &secrets(&[("url", "x")])).expect_err("both");
        assert_eq!(error.field, "sink.secrets.url");
        assert!(error.message.contains("also in `sink.config`"), "{error}");
    }

    #[test]
    fn redacted_secrets_follow_their_destination() {
        let stored = secrets(&[("secret", "s3cret")]);
        let mut same = secrets(&[("secret", REDACTED)]);
        keep_redacted("sink", &mut same, &stored, "module `a`", "module `a`").expect("same");
        assert_eq!(same, stored);
        let mut moved = secrets(&[("secret", REDACTED)]);
        let error = keep_redacted(
            "transforms[1]",
            &mut moved,
            &stored,
            "module `b`",
            "module `a`",
        )
        .expect_err("moved");
        assert_eq!(error.field, "transforms[1].secrets.secret");
        assert!(error.message.contains("module `a`"), "{error}");
    }
}
