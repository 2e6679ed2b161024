//! Stages from uploaded modules: the [`StageFactory`] of a node. A
//! component's `init` receives its `config` with its `secrets` merged in.

use std::sync::Arc;

use async_trait::async_trait;
use wasmtime::component::Component;

use super::StageFactory;
use crate::connector::TransformConfig;
use crate::modules::{ModuleRef, ModuleRegistry};
use crate::outbound::DestinationPolicy;
use crate::sinks::wasm::secrets::init_settings;
use crate::sinks::wasm::WasmSinkConfig;
use crate::wasm::{GuestIdentity, SinkStage, TransformStage, World};

/// Resolves `reference`, checks the module satisfies `world`, and loads its
/// compiled component (from the cache, else compiled off the async threads).
async fn component(
    registry: &ModuleRegistry,
    reference: &ModuleRef,
    world: World,
) -> Result<Component, String> {
    let version = registry
        .resolve(reference)
        .await
        .map_err(|e| e.to_string())?;
    if !version.has_world(world) {
        let worlds: Vec<String> = version.worlds.iter().map(World::to_string).collect();
        return Err(format!(
            "module `{}` cannot be used as a {world}: it is a {}",
            version.reference(),
            worlds.join(" and ")
        ));
    }
    if let Some(component) = registry.host().cached(&version.digest) {
        return Ok(component);
    }
    let bytes = registry
        .bytes(&version.digest)
        .await
        .map_err(|e| e.to_string())?;
    let host = registry.host().clone();
    let digest = version.digest.clone();
    tokio::task::spawn_blocking(move || host.component(&digest, || bytes))
        .await
        .map_err(|e| format!("compiling the component failed: {e}"))?
        .map_err(|e| e.to_string())
}

#[async_trait]
impl StageFactory for ModuleRegistry {
    async fn transform(
        &self,
        identity: GuestIdentity,
        config: &TransformConfig,
    ) -> Result<TransformStage, String> {
        let component = component(self, &config.module, World::Transform).await?;
        let settings = init_settings(&config.config, &config.secrets);
        self.host()
            .transform(&component, identity, settings, config.limits.stage_limits())
            .map_err(|e| e.to_string())
    }

    async fn sink(
        &self,
        identity: GuestIdentity,
        config: &WasmSinkConfig,
    ) -> Result<SinkStage, String> {
        let component = component(self, &config.module, World::Sink).await?;
        let settings = init_settings(&config.config, &config.secrets);
        self.host()
            .sink(
                &component,
                identity,
                settings,
                config.limits.stage_limits(),
                config.allow_hosts.clone(),
            )
            .map_err(|e| e.to_string())
    }

    fn destinations(&self) -> Arc<DestinationPolicy> {
        Arc::clone(self.host().destinations())
    }
}
