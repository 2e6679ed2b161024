//! Secrets in the HTTP sink's settings: which values are secret, hiding them
//! from readers, and keeping them when a reader sends the settings back.
//!
//! Secrets are the basic-auth password, the bearer token, header values
//! marked secret (`"x-signature": {"secret": "..."}`), and the values of
//! headers whose name looks like a credential: `authorization`,
//! `proxy-authorization`, `cookie`, or any name containing `token`,
//! `secret`, `key`, `password`, `auth` or `signature` (e.g. `x-api-key`).
//!
//! [`HttpSinkConfig::keep_secrets_from`] puts back a secret given as
//! [`REDACTED`] from the previous settings (the same field: auth type and
//! header name) only when the destination it protects, the scheme, host and
//! port of `url`, is unchanged.

use std::collections::HashMap;

use super::config::{HttpAuth, HttpSinkConfig};
use super::template::UrlTemplate;
use crate::sinks::{ConfigError, REDACTED};

impl HttpSinkConfig {
    /// Every secret value with its field path (`sink.auth.token`,
    /// `sink.headers.x-api-key`...).
    pub fn secret_fields_mut(&mut self) -> Vec<(String, &mut String)> {
        let mut fields = Vec::new();
        match &mut self.auth {
            Some(HttpAuth::Basic { password, .. }) => {
                fields.push(("sink.auth.password".to_owned(), password))
            }
            Some(HttpAuth::Bearer { token }) => fields.push(("sink.auth.token".to_owned(), token)),
            None => {}
        }
        for (name, setting) in &mut self.headers {
            if setting.is_secret(name) {
                fields.push((format!("sink.headers.{name}"), setting.value_mut()));
            }
        }
        fields
    }

    /// The settings with every secret replaced by [`REDACTED`].
    pub fn redacted(&self) -> Self {
        let mut shown = self.clone();
        for (_, value) in shown.secret_fields_mut() {
            *value = REDACTED.into();
        }
        shown
    }

    /// What the secrets are sent to: `scheme://host:port` of `url`.
    pub fn destination(&self) -> Option<String> {
        let template = UrlTemplate::parse(&self.url).ok()?;
        let url = url::Url::parse(&template.render_with("a")).ok()?;
        Some(format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str()?,
            url.port_or_known_default()?
        ))
    }

    /// Fills secrets given as [`REDACTED`] from `previous` when the
    /// destination is unchanged; a changed destination is refused, naming
    /// the field. A placeholder with nothing to keep is left for
    /// validation to refuse.
    pub fn keep_secrets_from(&mut self, previous: &HttpSinkConfig) -> Result<(), ConfigError> {
        let (new, old) = (self.destination(), previous.destination());
        let mut stored = previous.clone();
        let stored: HashMap<String, String> = stored
            .secret_fields_mut()
            .into_iter()
            .map(|(field, value)| (field, value.clone()))
            .collect();
        for (field, value) in self.secret_fields_mut() {
            let Some(kept) = stored.get(&field).filter(|_| value == REDACTED) else {
                continue;
            };
            match (&new, &old) {
                (Some(new), Some(old)) if new == old => value.clone_from(kept),
                (Some(new), Some(old)) => return Err(destination_changed(&field, old, new)),
                // An invalid URL: validation says why.
                _ => {}
            }
        }
        Ok(())
    }
}

/// A secret sent back redacted for another destination than its own.
pub fn destination_changed(field: &str, old: &str, new: &str) -> ConfigError {
    ConfigError::new(
        field,
        format!(
            "was sent as `{REDACTED}` but the destination changed from `{old}` to `{new}`; send the secret again"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::header::HeaderSetting;
    use super::*;

    fn config(url: &str) -> HttpSinkConfig {
        let mut config = HttpSinkConfig::new(url);
        config.auth = Some(HttpAuth::Bearer {
            token: "SUPERSECRET".into(),
        });
        config.headers.insert("x-api-key".into(), "k1".into());
        config
            .headers
            .insert("x-sig".into(), HeaderSetting::Secret("s1".into()));
        config.headers.insert("x-source".into(), "orders".into());
        config
    }

    #[test]
    fn every_secret_is_redacted_and_the_rest_shown() {
        let shown =
            serde_json::to_value(config("https://a.example/hook").redacted()).expect("json");
        assert_eq!(shown["auth"]["token"], REDACTED);
        assert_eq!(shown["headers"]["x-api-key"], REDACTED);
        assert_eq!(
            shown["headers"]["x-sig"],
            serde_json::json!({ "secret": REDACTED })
        );
        assert_eq!(shown["headers"]["x-source"], "orders");
        let debug = format!("{:?}", config("https://a.example/hook"));
        assert!(
            !debug.contains("SUPERSECRET") && !debug.contains("s1"),
            "{debug}"
        );
    }

    #[test]
    fn header_values_parse_as_text_or_secret() {
        let parse = |v| serde_json::from_value::<HeaderSetting>(v);
        assert_eq!(
            parse(serde_json::json!("x")).expect("text"),
            HeaderSetting::Plain("x".into())
        );
        assert_eq!(
            parse(serde_json::json!({ "secret": "x" })).expect("secret"),
            HeaderSetting::Secret("x".into())
        );
        let error = parse(serde_json::json!({ "secrets": "x" })).expect_err("unknown field");
        assert!(error.to_string().contains("expected `secret`"), "{error}");
        assert!(parse(serde_json::json!(3)).is_err());
    }

    #[test]
    fn a_redacted_secret_is_kept_only_for_the_same_destination() {
        let stored = config("https://a.example/hook");
        let mut same = config("https://a.example:443/other-path?x=1").redacted();
        same.keep_secrets_from(&stored).expect("same host");
        assert_eq!(same, config("https://a.example:443/other-path?x=1"));

        let mut moved = config("https://b.example/hook").redacted();
        let error = moved.keep_secrets_from(&stored).expect_err("other host");
        assert_eq!(
            error.to_string(),
            "`sink.auth.token` was sent as `******` but the destination changed from \
             `https://a.example:443` to `https://b.example:443`; send the secret again"
        );
        let mut other_port = HttpSinkConfig::new("https://a.example:8443/hook");
        other_port
            .headers
            .insert("x-api-key".into(), REDACTED.into());
        let error = other_port
            .keep_secrets_from(&stored)
            .expect_err("other port");
        assert_eq!(error.field, "sink.headers.x-api-key");

        let mut new_secret = config("https://b.example/hook");
        new_secret
            .keep_secrets_from(&stored)
            .expect("secrets sent again");
        assert_eq!(new_secret, config("https://b.example/hook"));
    }
}
