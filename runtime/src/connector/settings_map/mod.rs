//! KurrentDB's settings map: the flat `{"key": "value"}` shape in which
//! KurrentDB Connectors define a connector (`instanceTypeName`,
//! `subscription:filter:*`, `url`, `authentication:*`, ...), translated to
//! and from a [`ConnectorDefinition`], so a definition written for
//! KurrentDB's HTTP and Serilog sinks runs here unchanged.
//!
//! [`to_definition`] reads a settings map: keys match in any case, as in
//! KurrentDB; values are strings (numbers and booleans are taken as their
//! text). Every key must be one KurrentDB defines for the instance type:
//! a typo is an error naming the key and listing the valid ones. The keys
//! of KurrentDB's own machinery that have no meaning here (`logging:*`,
//! `resilience:*`, `pooledConnectionLifetime`, ...) are accepted and have
//! no effect ([`keys::IGNORED`]); settings this node cannot honour (a
//! JavaScript transform, a Serilog configuration, a sink it does not have)
//! are refused with what to use instead.
//!
//! [`to_settings`] renders a definition as a settings map when it has one:
//! when reading the map back gives the same definition. A definition with
//! features the map cannot say (WebAssembly stages, batching, a start
//! position, ...) has none, and the error lists those features.

mod keys;
mod parse;
mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use keys::{HTTP_SINK, SERILOG_SINK};
pub use parse::{name_settings_key, to_definition, validate};
pub use render::{instance_type_name, to_settings, NoSettingsForm};

use crate::sinks::ConfigError;

/// A settings map, as KurrentDB's API sends and answers it.
pub type Settings = BTreeMap<String, String>;

/// Reads a JSON object as a settings map: string values as they are,
/// numbers and booleans as their text. `field` names the object in errors,
/// e.g. `settings` (empty: the body itself).
pub fn from_json(
    field: &str,
    object: serde_json::Map<String, serde_json::Value>,
) -> Result<Settings, ConfigError> {
    let mut settings = Settings::new();
    for (key, value) in object {
        let text = match value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            other => {
                return Err(ConfigError::new(
                    if field.is_empty() {
                        key
                    } else {
                        format!("{field}.{key}")
                    },
                    format!("must be a string, like every value of a settings map; got `{other}`"),
                ))
            }
        };
        settings.insert(key, text);
    }
    Ok(settings)
}
