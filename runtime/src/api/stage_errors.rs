//! How the API answers a WebAssembly stage that cannot be made or that
//! refuses its config, wherever a request builds stages (a create or
//! reconfigure, a preview, a replay): a config `init` refuses is `422
//! invalid-config` naming the stage's `config`; a module that cannot be
//! made is `400 invalid-module`, or `503 unavailable` when the store is out.

use axum::http::StatusCode;

use super::error::ApiError;
use crate::connector::TransformConfig;
use crate::modules::ModuleError;
use crate::pipeline::{ChainBuildError, StageBuildError, StageConfigError};
use crate::store::StoreError;

impl From<StageConfigError> for ApiError {
    fn from(refused: StageConfigError) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-config",
            refused.to_string(),
        )
    }
}

/// The answer when stage `name` cannot be built: a store outage is the
/// node's trouble (`503 unavailable`, retry later), anything else is the
/// module's (`400 invalid-module`).
pub fn stage_build_error(name: &str, error: StageBuildError) -> ApiError {
    match error {
        StageBuildError::Module(ModuleError::Store(outage @ StoreError::Unavailable(_))) => {
            outage.into()
        }
        other => ApiError::bad_request("invalid-module", format!("{name}: {other}")),
    }
}

/// The answer when the chain of `transforms` cannot be built.
pub fn chain_build_error(error: ChainBuildError, transforms: &[TransformConfig]) -> ApiError {
    match error {
        ChainBuildError::Build { stage, error, .. } => stage_build_error(&stage, error),
        ChainBuildError::Init { index, error, .. } => StageConfigError::from_init(
            &format!("transforms[{index}]"),
            &transforms[index].module,
            error,
        )
        .into(),
    }
}
