//! Validation of the HTTP sink's settings: pure checks that name the
//! setting (`sink.url`, `sink.batch.maxEvents`...) and show a valid value.

use reqwest::header::{HeaderName, HeaderValue};

use super::config::{HttpAuth, HttpBatchConfig, HttpSinkConfig};
use super::request::is_printable_ascii;
use super::template::UrlTemplate;
use crate::sinks::{ConfigError, REDACTED};

/// The longest request timeout allowed.
const MAX_TIMEOUT_MS: u64 = 3_600_000;
/// The longest batch linger allowed.
const MAX_LINGER_MS: u64 = 60_000;

impl HttpSinkConfig {
    /// Checks the settings without any I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_url()?;
        self.validate_headers()?;
        if let Some(auth) = &self.auth {
            auth.validate()?;
        }
        if self.timeout_ms == 0 || self.timeout_ms > MAX_TIMEOUT_MS {
            return Err(ConfigError::new(
                "sink.timeoutMs",
                format!("must be between 1 and {MAX_TIMEOUT_MS} milliseconds, e.g. `10000`"),
            ));
        }
        if let Some(batch) = &self.batch {
            batch.validate()?;
        }
        super::status::validate(&self.on_status)?;
        self.retry.validate("sink.retry")
    }

    fn validate_url(&self) -> Result<(), ConfigError> {
        let field = "sink.url";
        let example = "e.g. `https://example.com/hook`";
        let template = UrlTemplate::parse(&self.url)
            .map_err(|m| ConfigError::new(field, format!("{m}, {example}")))?;
        if template.has_templates() && self.batch.is_some() {
            return Err(ConfigError::new(
                field,
                "cannot use `{stream}`, `{eventType}` or `{category}` in batch mode: a batch holds \
                 events of many streams and goes to one URL; use a fixed URL, e.g. \
                 `https://example.com/events`, or remove `batch`",
            ));
        }
        let not_absolute =
            || ConfigError::new(field, format!("must be an absolute http(s) URL, {example}"));
        let first = url::Url::parse(&template.render_with("a")).map_err(|_| not_absolute())?;
        if !matches!(first.scheme(), "http" | "https") || first.host_str().is_none() {
            return Err(not_absolute());
        }
        let second = url::Url::parse(&template.render_with("b")).map_err(|_| not_absolute())?;
        if first.host_str() != second.host_str() || first.port() != second.port() {
            return Err(ConfigError::new(
                field,
                "may use templates in the path and query only, e.g. \
                 `https://example.com/streams/{stream}`",
            ));
        }
        if let Some(segment) = super::template::dot_segment(&template.render_with("a")) {
            return Err(ConfigError::new(
                field,
                format!(
                    "has the path segment `{segment}`, which URL parsers remove with the segment \
                     before it; write the path it means, e.g. `https://example.com/hook`"
                ),
            ));
        }
        if !first.username().is_empty() || first.password().is_some() {
            return Err(ConfigError::new(
                field,
                "must not contain credentials (they would show in logs and the API); \
                 use `auth`, e.g. `{\"type\":\"basic\",\"username\":\"u\",\"password\":\"p\"}`",
            ));
        }
        Ok(())
    }

    fn validate_headers(&self) -> Result<(), ConfigError> {
        for (name, setting) in &self.headers {
            let field = format!("sink.headers.{name}");
            let value = setting.value();
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConfigError::new(
                    &field,
                    "is not a valid header name (letters, digits and `-`), e.g. `x-api-key`",
                )
            })?;
            if is_reserved(header.as_str(), self.auth.is_some()) {
                return Err(ConfigError::new(
                    &field,
                    "is set by the sink itself and cannot be given (`authorization` comes from \
                     `auth`); use another header, e.g. `x-source`",
                ));
            }
            if !is_printable_ascii(value) || HeaderValue::from_str(value).is_err() {
                return Err(ConfigError::new(
                    &field,
                    "must be printable ASCII without line breaks, e.g. `orders-service`",
                ));
            }
            if value == REDACTED && setting.is_secret(name) {
                return Err(secret_placeholder(&field));
            }
        }
        Ok(())
    }
}

/// Headers the sink sets itself (`authorization` too when `auth` is set).
fn is_reserved(name: &str, has_auth: bool) -> bool {
    const SET_BY_SINK: [&str; 9] = [
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
    ];
    SET_BY_SINK.contains(&name)
        || name.starts_with("esdb-")
        || name.starts_with("ce-")
        || (has_auth && name == "authorization")
}

fn secret_placeholder(field: &str) -> ConfigError {
    ConfigError::new(
        field,
        format!("is the redacted placeholder `{REDACTED}` and there is no stored secret to keep; give the secret itself"),
    )
}

impl HttpAuth {
    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            HttpAuth::Basic { username, password } => {
                if username.is_empty()
                    || username.contains(':')
                    || username.chars().any(char::is_control)
                {
                    return Err(ConfigError::new(
                        "sink.auth.username",
                        "must be a non-empty name without `:` or control characters, e.g. `ingest`",
                    ));
                }
                if password == REDACTED {
                    return Err(secret_placeholder("sink.auth.password"));
                }
                if password.chars().any(char::is_control) {
                    return Err(ConfigError::new(
                        "sink.auth.password",
                        "must not contain control characters, e.g. `s3cret`",
                    ));
                }
            }
            HttpAuth::Bearer { token } => {
                if token == REDACTED {
                    return Err(secret_placeholder("sink.auth.token"));
                }
                if token.is_empty() || !is_printable_ascii(token) || token.contains(' ') {
                    return Err(ConfigError::new(
                        "sink.auth.token",
                        "must be non-empty printable ASCII without spaces, e.g. `eyJhbGciOi...`",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl HttpBatchConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_events == 0 {
            return Err(ConfigError::new(
                "sink.batch.maxEvents",
                "must be at least 1, e.g. `1000`",
            ));
        }
        if self.max_bytes == 0 {
            return Err(ConfigError::new(
                "sink.batch.maxBytes",
                "must be at least 1 byte, e.g. `1048576` (1 MiB)",
            ));
        }
        if self.linger_ms > MAX_LINGER_MS {
            return Err(ConfigError::new(
                "sink.batch.lingerMs",
                format!("must be at most {MAX_LINGER_MS} milliseconds, e.g. `50`"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(config: &HttpSinkConfig) -> ConfigError {
        config.validate().unwrap_err()
    }

    #[test]
    fn defaults_validate() {
        assert_eq!(
            HttpSinkConfig::new("https://example.com/hook").validate(),
            Ok(())
        );
        let mut templated = HttpSinkConfig::new("http://h:8080/s/{stream}?t={eventType}");
        assert_eq!(templated.validate(), Ok(()));
        templated.batch = Some(HttpBatchConfig::default());
        assert_eq!(error(&templated).field, "sink.url");
    }

    #[test]
    fn authorization_header_only_without_auth() {
        let mut config = HttpSinkConfig::new("https://example.com/hook");
        config
            .headers
            .insert("Authorization".into(), "ApiKey abc".into());
        assert_eq!(config.validate(), Ok(()));
        config.auth = Some(HttpAuth::Bearer { token: "t".into() });
        assert_eq!(error(&config).field, "sink.headers.Authorization");
    }

    #[test]
    fn reserved_and_non_ascii_headers_are_refused() {
        for name in ["content-length", "esdb-record-id", "ce-id", "Host"] {
            let mut config = HttpSinkConfig::new("https://example.com/hook");
            config.headers.insert(name.into(), "x".into());
            assert_eq!(error(&config).field, format!("sink.headers.{name}"));
        }
        let mut config = HttpSinkConfig::new("https://example.com/hook");
        config.headers.insert("x-name".into(), "café".into());
        assert!(error(&config).message.contains("printable ASCII"));
    }

    #[test]
    fn limits_and_secrets() {
        let mut config = HttpSinkConfig::new("https://example.com/hook");
        config.timeout_ms = MAX_TIMEOUT_MS + 1;
        assert_eq!(error(&config).field, "sink.timeoutMs");
        config.timeout_ms = 10;
        config.batch = Some(HttpBatchConfig {
            linger_ms: MAX_LINGER_MS + 1,
            ..HttpBatchConfig::default()
        });
        assert_eq!(error(&config).field, "sink.batch.lingerMs");
        config.batch = None;
        config.auth = Some(HttpAuth::Bearer {
            token: "a b".into(),
        });
        assert_eq!(error(&config).field, "sink.auth.token");
        config.auth = Some(HttpAuth::Basic {
            username: "u".into(),
            password: REDACTED.into(),
        });
        let placeholder = error(&config);
        assert_eq!(placeholder.field, "sink.auth.password");
        assert!(placeholder.message.contains("redacted placeholder"));
    }
}
