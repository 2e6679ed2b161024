//! Why a pipeline ended without being asked to: it faulted ([`Fault`], the
//! connector's status then shows the reason) or it may no longer deliver
//! ([`Fenced`]). Each kind of fault is a variant, so callers and tests can
//! tell a bad setting from a refused event or a failing sink.

use crate::sinks::{ConfigError, SinkError};
use crate::wasm::StageError;

use super::checkpoints::Fenced;
use super::stages::StageBuildError;
use super::transforms::ChainError;

/// Why a connector faulted. The text is what its status shows.
#[derive(Debug, thiserror::Error)]
pub(super) enum Fault {
    /// The built-in filter does not compile.
    #[error("invalid filter: {0}")]
    InvalidFilter(#[source] ConfigError),
    /// A WebAssembly stage could not be built from its module.
    #[error("{stage}: {error}")]
    StageBuild {
        /// e.g. `transforms[0] (redact)`, `sink (forward)`.
        stage: String,
        #[source]
        error: StageBuildError,
    },
    /// A WebAssembly stage's `init` refused its config, or trapped.
    #[error("{stage}: {error}")]
    StageInit {
        stage: String,
        #[source]
        error: StageError,
    },
    /// The built-in sink cannot be built from its settings.
    #[error("invalid sink: {0}")]
    InvalidSink(#[source] ConfigError),
    /// The transform chain failed the whole batch for good.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// An event was refused (by the JSONPath filter, a stage or the sink)
    /// under `onFailure: fault`, or its refusal stops the connector.
    #[error("{0}")]
    EventRefused(String),
    /// The JSONPath filter could not be run over a batch.
    #[error("{0}")]
    FilterEvaluation(String),
    /// A refused event's dead letter could not be written.
    #[error("{0}")]
    DeadLetter(String),
    /// The sink broke its contract.
    #[error("the sink answered {answered} outcomes for {sent} events")]
    OutcomeCount { answered: usize, sent: usize },
    /// The sink failed in a way no retry mends.
    #[error("sink failed: {0}")]
    Sink(#[from] SinkError),
}

/// How a pipeline ended without being asked to.
#[derive(Debug, thiserror::Error)]
pub(super) enum Ended {
    #[error(transparent)]
    Faulted(#[from] Fault),
    #[error(transparent)]
    Fenced(#[from] Fenced),
}
