//! The connectors as users of modules: what the module registry asks
//! before it deletes a module, and to name who follows a name.

use async_trait::async_trait;

use super::{CommandError, ConnectorDefinition, ConnectorRepository};
use crate::modules::{ModuleRef, ModuleUser, ModuleUsers, ModuleUsersError};
use crate::sinks::SinkConfig;

impl ConnectorDefinition {
    /// Each stage that runs a module (`transforms[0]`, ..., `sink`) and the
    /// module it names.
    pub fn module_stages(&self) -> Vec<(String, ModuleRef)> {
        let mut stages: Vec<(String, ModuleRef)> = self
            .transforms
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("transforms[{i}]"), t.module.clone()))
            .collect();
        if let SinkConfig::Wasm(sink) = &self.sink {
            stages.push(("sink".into(), sink.module.clone()));
        }
        stages
    }
}

#[async_trait]
impl ModuleUsers for ConnectorRepository {
    async fn module_users(&self) -> Result<Vec<ModuleUser>, ModuleUsersError> {
        let connectors = self.list_stored().await.map_err(|e| match e {
            CommandError::Store(e) => ModuleUsersError::Store(e),
            other => ModuleUsersError::Unreadable(other.to_string()),
        })?;
        Ok(connectors
            .into_iter()
            .filter(|c| !c.deleted)
            .map(|c| ModuleUser {
                name: c.id.to_string(),
                enabled: c.enabled,
                stages: c.definition.module_stages(),
            })
            .filter(|user| !user.stages.is_empty())
            .collect())
    }
}
