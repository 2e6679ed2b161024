//! Where a pipeline gets its WebAssembly stages from.

use std::sync::Arc;

use async_trait::async_trait;

use crate::connector::TransformConfig;
use crate::outbound::DestinationPolicy;
use crate::sinks::wasm::WasmSinkConfig;
use crate::wasm::{GuestIdentity, SinkStage, TransformStage};

/// Builds the WebAssembly stages of pipelines: resolves the module, loads its
/// compiled component and makes a stage with the configured limits.
#[async_trait]
pub trait StageFactory: Send + Sync {
    async fn transform(
        &self,
        identity: GuestIdentity,
        config: &TransformConfig,
    ) -> Result<TransformStage, String>;

    async fn sink(
        &self,
        identity: GuestIdentity,
        config: &WasmSinkConfig,
    ) -> Result<SinkStage, String>;

    /// Where sinks may connect (the node's destination policy).
    fn destinations(&self) -> Arc<DestinationPolicy>;
}
