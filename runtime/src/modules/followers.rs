//! Which connectors follow a module's name (name it without pinning a
//! digest), so an upload can say who will run the new version, and when.

use super::{ModuleError, ModuleRef, ModuleRegistry};

/// A connector whose definition names a module without pinning a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    /// The connector's id.
    pub connector: String,
    pub enabled: bool,
    /// The stages that name the module: `transforms[0]`, ..., `sink`.
    pub stages: Vec<String>,
}

/// Of `stages` (each stage and the module it names), those that follow the
/// name `name`.
pub fn following_stages(stages: &[(String, ModuleRef)], name: &str) -> Vec<String> {
    stages
        .iter()
        .filter(|(_, module)| module.name() == name && module.digest().is_none())
        .map(|(stage, _)| stage.clone())
        .collect()
}

impl ModuleRegistry {
    /// The (non-deleted) connectors that follow `name`, by id.
    pub async fn followers(&self, name: &str) -> Result<Vec<Follower>, ModuleError> {
        let mut followers: Vec<Follower> = self
            .inner
            .users
            .module_users()
            .await?
            .into_iter()
            .filter_map(|user| {
                let stages = following_stages(&user.stages, name);
                (!stages.is_empty()).then_some(Follower {
                    connector: user.name,
                    enabled: user.enabled,
                    stages,
                })
            })
            .collect();
        followers.sort_by(|a, b| a.connector.cmp(&b.connector));
        Ok(followers)
    }
}

#[cfg(test)]
mod tests {
    use super::following_stages;
    use crate::modules::ModuleRef;

    #[test]
    fn only_stages_naming_the_module_without_a_pin_follow_it() {
        let pin = format!("redact@sha256:{}", "a".repeat(64));
        let stages: Vec<(String, ModuleRef)> = [
            ("transforms[0]", "redact"),
            ("transforms[1]", pin.as_str()),
            ("transforms[2]", "other"),
            ("transforms[3]", "redact"),
            ("sink", "redact"),
        ]
        .into_iter()
        .map(|(stage, module)| {
            (
                stage.to_owned(),
                ModuleRef::parse(module).expect("reference"),
            )
        })
        .collect();
        assert_eq!(
            following_stages(&stages, "redact"),
            ["transforms[0]", "transforms[3]", "sink"]
        );
        assert!(following_stages(&stages, "missing").is_empty());
    }
}
