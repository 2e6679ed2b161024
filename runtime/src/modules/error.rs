use super::ModuleUsersError;
use crate::store::StoreError;
use crate::wasm::WasmError;

/// Why a module operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The name is not a valid module name.
    #[error("`{0}` is not a valid module name: use 1 to 100 letters, digits, `-`, `_` or `.`, starting with a letter or digit (e.g. `redact`)")]
    InvalidName(String),
    /// The module is larger than this node accepts.
    #[error("the module is {size} bytes, more than the {max} bytes this node accepts (see `--max-module-bytes`)")]
    TooLarge { size: usize, max: usize },
    /// The bytes are not a usable component.
    #[error("{0}")]
    Invalid(crate::wasm::WasmError),
    /// No module has this name.
    #[error("module `{0}` not found")]
    NotFound(String),
    /// The module was never uploaded with this digest under this name.
    #[error("module `{name}` has no version `{digest}`")]
    VersionNotFound { name: String, digest: String },
    /// No module content has this digest.
    #[error("no module content with digest `{0}` is stored")]
    ContentNotFound(String),
    /// Connectors still use the module.
    #[error("module `{name}` is used by {}: delete them or change their definitions first", describe_connectors(.connectors))]
    InUse {
        name: String,
        connectors: Vec<String>,
    },
    /// The stored content does not match its digest or layout.
    #[error("the stored content of module `{digest}` is corrupt: {message}")]
    Corrupt { digest: String, message: String },
    /// The connectors could not be listed.
    #[error("cannot list the connectors: {0}")]
    Connectors(String),
    /// Validation could not run (the compiling task failed).
    #[error("cannot validate the module: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<WasmError> for ModuleError {
    fn from(e: WasmError) -> Self {
        ModuleError::Invalid(e)
    }
}

impl From<ModuleUsersError> for ModuleError {
    fn from(e: ModuleUsersError) -> Self {
        match e {
            ModuleUsersError::Store(e) => ModuleError::Store(e),
            ModuleUsersError::Unreadable(message) => ModuleError::Connectors(message),
        }
    }
}

fn describe_connectors(ids: &[String]) -> String {
    let quoted: Vec<String> = ids.iter().map(|id| format!("`{id}`")).collect();
    match quoted.as_slice() {
        [one] => format!("connector {one}"),
        _ => format!("connectors {}", quoted.join(", ")),
    }
}
