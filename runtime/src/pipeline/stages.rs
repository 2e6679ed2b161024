//! Where a pipeline gets its WebAssembly stages from, and why it may not get
//! one ([`StageBuildError`]: a store outage is told apart from a bad module,
//! so a caller can retry the one and report the other).

use std::sync::Arc;

use async_trait::async_trait;

use crate::connector::TransformConfig;
use crate::modules::ModuleError;
use crate::outbound::DestinationPolicy;
use crate::sinks::wasm::WasmSinkConfig;
use crate::store::StoreError;
use crate::wasm::{GuestIdentity, SinkStage, TransformStage, WasmError};

/// Builds the WebAssembly stages of pipelines: resolves the module, loads its
/// compiled component and makes a stage with the configured limits.
#[async_trait]
pub trait StageFactory: Send + Sync {
    async fn transform(
        &self,
        identity: GuestIdentity,
        config: &TransformConfig,
    ) -> Result<TransformStage, StageBuildError>;

    async fn sink(
        &self,
        identity: GuestIdentity,
        config: &WasmSinkConfig,
    ) -> Result<SinkStage, StageBuildError>;

    /// Where sinks may connect (the node's destination policy).
    fn destinations(&self) -> Arc<DestinationPolicy>;
}

/// Why a stage could not be built from its module.
#[derive(Debug, thiserror::Error)]
pub enum StageBuildError {
    /// The module could not be resolved or read (not found, corrupt, or the
    /// store is unavailable: see [`StageBuildError::is_store_outage`]).
    #[error(transparent)]
    Module(#[from] ModuleError),
    /// The module is of the other world (a sink used as a transform, ...).
    #[error("module `{module}` cannot be used as a {expected}: it is a {found}")]
    WrongWorld {
        module: String,
        expected: crate::wasm::World,
        found: String,
    },
    /// The component cannot be compiled or instantiated.
    #[error(transparent)]
    Wasm(#[from] WasmError),
    /// The compiling task ended without an answer.
    #[error("compiling the component failed: {0}")]
    Compile(String),
    /// Any other reason (stage factories of tests).
    #[error("{0}")]
    Other(String),
}

impl StageBuildError {
    /// Whether the stage failed because the store could not be read, not
    /// because of the module: trying again later may succeed.
    pub fn is_store_outage(&self) -> bool {
        matches!(
            self,
            StageBuildError::Module(ModuleError::Store(StoreError::Unavailable(_)))
        )
    }
}
