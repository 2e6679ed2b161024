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

fn default_include_data() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// Settings of the console sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsoleSinkConfig {
    /// `text` (one readable line per event, the default) or `json` (one
    /// envelope per line).
    #[serde(default = "default_format")]
    pub format: ConsoleFormat,
    /// Whether a `text` line ends with the event's data (default `true`);
    /// without it a line names the event only.
    #[serde(default = "default_include_data", skip_serializing_if = "is_true")]
    pub include_data: bool,
}

impl Default for ConsoleSinkConfig {
    fn default() -> Self {
        Self {
            format: default_format(),
            include_data: default_include_data(),
        }
    }
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
