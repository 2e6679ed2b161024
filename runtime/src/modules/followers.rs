//! Which connectors follow a module's name (name it without pinning a
//! digest), so an upload can say who will run the new version, and when.

use super::{ModuleError, ModuleRef, ModuleRegistry};
use crate::connector::{ConnectorDefinition, ConnectorId};
use crate::sinks::SinkConfig;

/// A connector whose definition names a module without pinning a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    pub connector: ConnectorId,
    pub enabled: bool,
    /// The stages that name the module: `transforms[0]`, ..., `sink`.
    pub stages: Vec<String>,
}

/// The stages of `definition` that follow the name `name`.
pub fn following_stages(definition: &ConnectorDefinition, name: &str) -> Vec<String> {
    let follows = |module: &ModuleRef| module.name() == name && module.digest().is_none();
    let mut stages: Vec<String> = definition
        .transforms
        .iter()
        .enumerate()
        .filter(|(_, t)| follows(&t.module))
        .map(|(i, _)| format!("transforms[{i}]"))
        .collect();
    if let SinkConfig::Wasm(sink) = &definition.sink {
        if follows(&sink.module) {
            stages.push("sink".into());
        }
    }
    stages
}

impl ModuleRegistry {
    /// The (non-deleted) connectors that follow `name`, by id.
    pub async fn followers(&self, name: &str) -> Result<Vec<Follower>, ModuleError> {
        let mut followers: Vec<Follower> = self
            .inner
            .connectors
            .list_stored()
            .await?
            .into_iter()
            .filter(|c| !c.deleted)
            .filter_map(|c| {
                let stages = following_stages(&c.definition, name);
                (!stages.is_empty()).then_some(Follower {
                    connector: c.id,
                    enabled: c.enabled,
                    stages,
                })
            })
            .collect();
        followers.sort_by(|a, b| a.connector.as_str().cmp(b.connector.as_str()));
        Ok(followers)
    }
}

#[cfg(test)]
mod tests {
    use super::following_stages;
    use crate::connector::ConnectorDefinition;

    #[test]
    fn only_stages_naming_the_module_without_a_pin_follow_it() {
        let pin = format!("redact@sha256:{}", "a".repeat(64));
        let definition: ConnectorDefinition = serde_json::from_value(serde_json::json!({
            "sink": { "type": "wasm", "module": "redact", "allowHosts": ["a.example"] },
            "transforms": [
                { "module": "redact" },
                { "module": pin },
                { "module": "other" },
                { "module": "redact" }
            ]
        }))
        .expect("definition");
        assert_eq!(
            following_stages(&definition, "redact"),
            ["transforms[0]", "transforms[3]", "sink"]
        );
        assert!(following_stages(&definition, "missing").is_empty());
    }
}
