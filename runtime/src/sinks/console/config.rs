//! Settings of the console sink.

use serde::{Deserialize, Serialize};

use crate::sinks::ConfigError;

/// How the console sink prints events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleFormat {
    /// One readable line per event: `#1234 orders-42@7 OrderPlaced {"total":12}`.
    #[default]
    Text,
    /// One JSON envelope per line.
    Json,
}

fn default_format() -> ConsoleFormat {
    ConsoleFormat::Text
}

/// Settings of the console sink.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsoleSinkConfig {
    /// `text` (one readable line per event, the default) or `json` (one
    /// envelope per line).
    #[serde(default = "default_format")]
    pub format: ConsoleFormat,
}

impl ConsoleSinkConfig {
    /// Checks the settings without any I/O (there is nothing that can be
    /// wrong once they deserialized).
    pub fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_defaults_to_text() {
        let config: ConsoleSinkConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config.format, ConsoleFormat::Text);
        let config: ConsoleSinkConfig = serde_json::from_str(r#"{"format":"json"}"#).unwrap();
        assert_eq!(config.format, ConsoleFormat::Json);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_and_formats_are_refused() {
        let error = serde_json::from_str::<ConsoleSinkConfig>(r#"{"colour":true}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `colour`"),
            "{error}"
        );
        let error = serde_json::from_str::<ConsoleSinkConfig>(r#"{"format":"xml"}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown variant `xml`"),
            "{error}"
        );
    }
}
