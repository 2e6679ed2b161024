use std::fmt;

use serde::{Deserialize, Serialize};

/// A connector's name: 1 to 100 letters, digits, `-`, `_` or `.`, starting
/// with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConnectorId(String);

/// Why a string is not a connector id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid connector id: use 1 to 100 letters, digits, `-`, `_` or `.`, starting with a letter or digit, e.g. `orders-to-webhook`")]
pub struct InvalidConnectorId(pub String);

impl ConnectorId {
    pub fn parse(value: &str) -> Result<Self, InvalidConnectorId> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        let valid = !value.is_empty()
            && value.len() <= 100
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.chars().all(valid_char);
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidConnectorId(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stream holding the connector's lifecycle events.
    pub fn stream(&self) -> String {
        format!("$connectors/{}", self.0)
    }

    /// The stream holding the connector's checkpoints.
    pub fn checkpoint_stream(&self) -> String {
        format!("$connectors/{}/checkpoints", self.0)
    }

    /// The stream holding the events the connector could not deliver.
    pub fn dead_letter_stream(&self) -> String {
        format!("$connectors/{}/dead-letters", self.0)
    }
}

impl TryFrom<String> for ConnectorId {
    type Error = InvalidConnectorId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ConnectorId> for String {
    fn from(id: ConnectorId) -> Self {
        id.0
    }
}

impl fmt::Display for ConnectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_simple_names_and_rejects_others() {
        for ok in ["a", "orders-to-webhook", "v1.2_x", &"x".repeat(100)] {
            assert!(ConnectorId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a b", "a/b", "é", &"x".repeat(101), "$x"] {
            assert!(ConnectorId::parse(bad).is_err(), "{bad}");
        }
    }
}
