//! The one place a transform chain is built: each stage made from its
//! module and `init`ed at once, named `transforms[i] (module)`. A pipeline
//! builds its connector's chain here (a failure faults the connector at
//! its start), and so does `/preview` (a failure is its answer). A
//! pipeline's stages count their traps and restarts in its metrics.

use crate::connector::TransformConfig;
use crate::metrics::InstanceCounters;
use crate::wasm::{GuestIdentity, StageError};

use super::stages::{StageBuildError, StageFactory};
use super::transforms::{Chain, NamedStage};

/// Why a transform chain could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ChainBuildError {
    /// Stage `index` could not be made from its module.
    #[error("{stage}: {error}")]
    Build {
        index: usize,
        stage: String,
        #[source]
        error: StageBuildError,
    },
    /// Stage `index`'s `init` refused its config, or trapped.
    #[error("{stage}: {error}")]
    Init {
        index: usize,
        stage: String,
        #[source]
        error: StageError,
    },
}

/// The stages of `transforms`, built from `stages` for `owner` (a
/// connector's id, or `preview`) and initialised, in order.
pub async fn build_chain(
    stages: &dyn StageFactory,
    owner: &str,
    transforms: &[TransformConfig],
) -> Result<Chain, ChainBuildError> {
    build_counted_chain(stages, owner, transforms, &InstanceCounters::default()).await
}

/// [`build_chain`], with the stages' traps and restarts counted in
/// `counters`.
pub async fn build_counted_chain(
    stages: &dyn StageFactory,
    owner: &str,
    transforms: &[TransformConfig],
    counters: &InstanceCounters,
) -> Result<Chain, ChainBuildError> {
    let mut named = Vec::with_capacity(transforms.len());
    for (index, config) in transforms.iter().enumerate() {
        let name = format!("transforms[{index}] ({})", config.module);
        let identity = GuestIdentity {
            connector: owner.to_owned(),
            stage: name.clone(),
            secrets: config.secrets.values().cloned().collect(),
            counters: counters.clone(),
        };
        let mut stage = match stages.transform(identity, config).await {
            Ok(stage) => stage,
            Err(error) => {
                return Err(ChainBuildError::Build {
                    index,
                    stage: name,
                    error,
                })
            }
        };
        if let Err(error) = stage.init().await {
            return Err(ChainBuildError::Init {
                index,
                stage: name,
                error,
            });
        }
        named.push(NamedStage { name, stage });
    }
    Ok(Chain::new(named))
}
