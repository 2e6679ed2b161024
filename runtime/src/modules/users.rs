//! Who uses modules. The registry refuses to delete a module in use and
//! names the connectors that follow a name; it learns both from
//! [`ModuleUsers`], which the connectors implement where they live, so the
//! module store knows nothing of connectors.

use async_trait::async_trait;

use super::ModuleRef;
use crate::store::StoreError;

/// Something that uses modules (a connector), as the registry sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleUser {
    /// Its name (a connector id).
    pub name: String,
    pub enabled: bool,
    /// Each stage that runs a module (`transforms[0]`, ..., `sink`) and the
    /// module it names.
    pub stages: Vec<(String, ModuleRef)>,
}

/// Why the users could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ModuleUsersError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Unreadable(String),
}

/// Lists what uses modules.
#[async_trait]
pub trait ModuleUsers: Send + Sync + 'static {
    /// Everything that exists and uses modules (deleted connectors are not
    /// listed).
    async fn module_users(&self) -> Result<Vec<ModuleUser>, ModuleUsersError>;
}

/// Nothing uses modules: a registry on its own.
pub struct NoModuleUsers;

#[async_trait]
impl ModuleUsers for NoModuleUsers {
    async fn module_users(&self) -> Result<Vec<ModuleUser>, ModuleUsersError> {
        Ok(Vec::new())
    }
}
