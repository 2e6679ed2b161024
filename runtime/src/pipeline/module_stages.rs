//! Stages from uploaded modules: the [`StageFactory`] of a node. A
//! component's `init` receives its `config` with its `secrets` merged in.
//!
//! [`check_stage_configs`] runs every stage's `init` once, in a short-lived
//! instance under the stage's own limits, when a connector is created or
//! reconfigured, so a config the component refuses is an answer then, not
//! a fault at the first event. [`StageModule`] is what a connector's status
//! shows of each stage: the module version it runs, and (after
//! [`mark_outdated`]) whether its name now points to a newer upload.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use wasmtime::component::Component;

use super::stages::StageBuildError;
use super::StageFactory;
use crate::connector::{ConnectorDefinition, TransformConfig};
use crate::modules::{ModuleRef, ModuleRegistry, ModuleVersion};
use crate::outbound::DestinationPolicy;
use crate::sinks::wasm::secrets::init_settings;
use crate::sinks::wasm::WasmSinkConfig;
use crate::sinks::SinkConfig;
use crate::wasm::{GuestIdentity, ModuleOrigin, SinkStage, StageError, TransformStage, World};

/// Resolves `reference`, checks the module satisfies `world`, and loads its
/// compiled component (from the cache, else compiled off the async threads),
/// telling which version it is.
async fn component(
    registry: &ModuleRegistry,
    reference: &ModuleRef,
    world: World,
) -> Result<(Component, ModuleOrigin), StageBuildError> {
    let version = registry.resolve(reference).await?;
    let origin = ModuleOrigin {
        module: version.name.clone(),
        digest: version.digest.clone(),
        pinned: reference.digest().is_some(),
    };
    Ok((compiled(registry, version, world).await?, origin))
}

async fn compiled(
    registry: &ModuleRegistry,
    version: ModuleVersion,
    world: World,
) -> Result<Component, StageBuildError> {
    if !version.has_world(world) {
        let worlds: Vec<String> = version.worlds.iter().map(World::to_string).collect();
        return Err(StageBuildError::WrongWorld {
            module: version.reference(),
            expected: world,
            found: worlds.join(" and "),
        });
    }
    if let Some(component) = registry.host().cached(&version.digest) {
        return Ok(component);
    }
    let bytes = registry.bytes(&version.digest).await?;
    let host = registry.host().clone();
    let digest = version.digest.clone();
    tokio::task::spawn_blocking(move || host.component(&digest, || bytes))
        .await
        .map_err(|e| StageBuildError::Compile(e.to_string()))?
        .map_err(StageBuildError::from)
}

#[async_trait]
impl StageFactory for ModuleRegistry {
    async fn transform(
        &self,
        identity: GuestIdentity,
        config: &TransformConfig,
    ) -> Result<TransformStage, StageBuildError> {
        let (component, origin) = component(self, &config.module, World::Transform).await?;
        let settings = init_settings(&config.config, &config.secrets);
        self.host()
            .transform(&component, identity, settings, config.limits.stage_limits())
            .map(|stage| stage.with_origin(origin))
            .map_err(StageBuildError::from)
    }

    async fn sink(
        &self,
        identity: GuestIdentity,
        config: &WasmSinkConfig,
    ) -> Result<SinkStage, StageBuildError> {
        let (component, origin) = component(self, &config.module, World::Sink).await?;
        let settings = init_settings(&config.config, &config.secrets);
        self.host()
            .sink(
                &component,
                identity,
                settings,
                config.limits.stage_limits(),
                config.allow_hosts.clone(),
            )
            .map(|stage| stage.with_origin(origin))
            .map_err(StageBuildError::from)
    }

    fn destinations(&self) -> Arc<DestinationPolicy> {
        Arc::clone(self.host().destinations())
    }
}

/// A stage's config its component refused (or could not be checked with).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}`: {message}")]
pub struct StageConfigError {
    /// Where the setting is, e.g. `transforms[1].config` or `sink.config`.
    pub path: String,
    pub message: String,
}

impl StageConfigError {
    /// What `init` of module `module` at `stage` (`transforms[1]`, `sink`)
    /// made of its config: a refusal names the stage's `config`; a trap or
    /// a broken limit (which may come from `limits` as much as from
    /// `config`) names the stage.
    pub fn from_init(stage: &str, module: &ModuleRef, error: StageError) -> Self {
        match error {
            StageError::Init(refusal) => Self {
                path: format!("{stage}.config"),
                message: format!("module `{module}` refused its config: {}", refusal.message),
            },
            other => Self {
                path: stage.to_owned(),
                message: format!("module `{module}` failed while checking its config: {other}"),
            },
        }
    }
}

/// Runs `init` of every WebAssembly stage of `definition` with its config,
/// each in a short-lived instance under the stage's limits.
pub async fn check_stage_configs(
    registry: &ModuleRegistry,
    connector: &str,
    definition: &ConnectorDefinition,
) -> Result<(), StageConfigError> {
    for (i, config) in definition.transforms.iter().enumerate() {
        let stage = format!("transforms[{i}]");
        let identity = GuestIdentity {
            connector: connector.to_owned(),
            stage: format!("{stage} ({}) config check", config.module),
            secrets: config.secrets.values().cloned().collect(),
            counters: Default::default(),
        };
        let mut built = StageFactory::transform(registry, identity, config)
            .await
            .map_err(|error| StageConfigError {
                path: format!("{stage}.module"),
                message: error.to_string(),
            })?;
        built
            .init()
            .await
            .map_err(|e| StageConfigError::from_init(&stage, &config.module, e))?;
    }
    if let SinkConfig::Wasm(config) = &definition.sink {
        let identity = GuestIdentity {
            connector: connector.to_owned(),
            stage: format!("sink ({}) config check", config.module),
            secrets: config.secrets.values().cloned().collect(),
            counters: Default::default(),
        };
        let mut built = StageFactory::sink(registry, identity, config)
            .await
            .map_err(|error| StageConfigError {
                path: "sink.module".into(),
                message: error.to_string(),
            })?;
        built
            .init()
            .await
            .map_err(|e| StageConfigError::from_init("sink", &config.module, e))?;
    }
    Ok(())
}

/// The module version one stage of a running connector runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageModule {
    /// `transforms[0]`, ... or `sink`.
    pub stage: String,
    /// The module's name.
    pub module: String,
    /// What the stage runs: the version it started with.
    pub digest: String,
    /// Whether the definition pins this digest (`name@sha256:...`).
    pub pinned: bool,
    /// `false` when the stage follows the name and the name now points to
    /// another upload, which the connector runs from its next start.
    pub up_to_date: bool,
    /// The digest the name points to now, when it is not `digest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_digest: Option<String>,
}

impl StageModule {
    /// `stage` running `origin`, taken as up to date until
    /// [`mark_outdated`] compares it with the registry.
    pub fn new(stage: impl Into<String>, origin: &ModuleOrigin) -> Self {
        Self {
            stage: stage.into(),
            module: origin.module.clone(),
            digest: origin.digest.clone(),
            pinned: origin.pinned,
            up_to_date: true,
            latest_digest: None,
        }
    }
}

/// The module versions a chain of transforms runs, in order.
pub fn chain_modules(chain: &super::Chain) -> Vec<StageModule> {
    chain
        .stages()
        .iter()
        .enumerate()
        .filter_map(|(i, named)| {
            named
                .stage
                .origin()
                .map(|o| StageModule::new(format!("transforms[{i}]"), o))
        })
        .collect()
}

/// Marks the stages that follow a name which now points to another upload
/// (left as they are when the registry cannot be read). Reads the module
/// index once.
pub async fn mark_outdated(registry: &ModuleRegistry, stages: &mut [StageModule]) {
    if stages.iter().all(|s| s.pinned) {
        return;
    }
    let Ok(modules) = registry.list().await else {
        return;
    };
    for stage in stages.iter_mut().filter(|s| !s.pinned) {
        if let Some(latest) = modules.iter().find(|m| m.name() == stage.module) {
            stage.up_to_date = latest.latest.digest == stage.digest;
            stage.latest_digest = (!stage.up_to_date).then(|| latest.latest.digest.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasm::{GuestError, GuestErrorKind};

    #[test]
    fn a_refusal_names_the_config_and_a_trap_the_stage() {
        let module = ModuleRef::parse("redact").expect("name");
        let refused = StageConfigError::from_init(
            "transforms[1]",
            &module,
            StageError::Init(GuestError {
                kind: GuestErrorKind::Fatal,
                message: "config needs `remove`".into(),
            }),
        );
        assert_eq!(
            refused.to_string(),
            "`transforms[1].config`: module `redact` refused its config: config needs `remove`"
        );
        let trapped = StageConfigError::from_init("sink", &module, StageError::Trap("boom".into()));
        assert_eq!(trapped.path, "sink");
    }
}
