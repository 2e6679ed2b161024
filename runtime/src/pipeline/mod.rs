//! The pipeline of one connector: subscription -> built-in filter ->
//! transform stages -> delivery lanes -> ordered acknowledgements ->
//! checkpoint.
//!
//! A pipeline runs in two halves joined by a bounded queue, so that while
//! the sink has one batch the next is read, filtered and transformed: the
//! reading half ([`read_ahead`], its own task) subscribes to `$all` from the
//! checkpoint (else from where the round starts), collects batches shaped
//! by the sink's [`BatchLimits`], runs the JSONPath filter and the
//! transform chain; the delivering half ([`in_order`]) hands each batch to
//! the delivery lanes ([`lanes`]) and acknowledges batches strictly in log
//! order. With `"ordering": "strict"` there is one lane: a batch goes to
//! the sink only after the one before was acknowledged. Ordered by key,
//! there are `concurrency` lanes, each with its own sink, and every event
//! of a key goes to the same lane. Either way a checkpoint names only a
//! position below which every event was delivered (or dead-lettered).
//! Store errors resubscribe after the last batch read, with back-off; sink
//! errors fault the connector.
//!
//! The files, in the order a batch meets them: `context` (what every step
//! works with: the connector, its repository, tenure, status and stop
//! token), `build` (the transform chain and the sinks, made at the start),
//! `run` (resume point, the two halves), `read_ahead`, [`json_filter`],
//! `transform_step` (the chain over a batch, settling what a stage
//! failed), `in_order`, `lanes`, `delivery` (one sink call, settling what
//! it refused) and [`dead_letters`]. Why a pipeline ended is typed
//! (`fault`): a bad setting, a refused event, a failing sink or dead-letter
//! stream, or a lost tenure.
//!
//! A pipeline runs under a [`Tenure`]: it delivers and checkpoints only
//! while its member holds the connector (each lane checks before every
//! request), and its checkpoints expect the checkpoint stream where it last
//! saw it, so a member that was taken over from can never move the
//! checkpoint ([`checkpoints`]).
//!
//! WebAssembly stages ([`module_stages`]) are initialised when the pipeline
//! starts, so a config their component refuses faults the connector at once;
//! the API runs the same `init` on create and `PUT` ([`check_stage_configs`])
//! so such a config is refused before it is stored. The status lists the
//! module version each stage runs ([`StageModule`]). A stage that cannot be
//! built says why ([`StageBuildError`]), so a store outage is told apart from
//! a bad module.
//!
//! The built-in filter's JSONPath part runs off the async threads, bounded
//! ([`json_filter`]); refused events are dead-lettered ([`dead_letters`]) or
//! fault the connector, as its `onFailure` says.
//!
//! Each pipeline counts into its connector's series of the node's metrics
//! ([`crate::metrics::ConnectorMetrics`], resolved when it starts): events
//! read per batch, the status's counts as they are added, retries,
//! checkpoints, and each transform stage's time per batch.
//!
//! In tests, `testing` has a mock destination (accepts, fails retryably,
//! stalls, refuses chosen events) whose sinks the real pipeline delivers to
//! in-process, in either ordering mode.
//!
//! [`BatchLimits`]: crate::sinks::BatchLimits

mod backoff;
mod batch;
mod build;
mod chain_build;
mod checkpoints;
mod context;
mod dead_letters;
mod delivery;
mod fault;
mod in_order;
mod json_filter;
mod lanes;
mod module_stages;
mod read_ahead;
mod run;
mod stages;
mod status;
mod tenure;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod transform_step;
mod transforms;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::connector::{ConnectorRepository, ConnectorState};
use crate::metrics::ConnectorMetrics;
use build::SinkSource;
use context::RunContext;

pub use chain_build::{build_chain, ChainBuildError};
pub use module_stages::{check_stage_configs, mark_outdated, StageConfigError, StageModule};
pub use stages::{StageBuildError, StageFactory};
pub use status::{LastError, PipelineStatus, RunCounts, RunState, StatusSnapshot};
pub use tenure::Tenure;
pub use transforms::{derive, Chain, ChainError, InputResult, NamedStage};

/// A running pipeline, owned by whoever started it.
pub struct PipelineHandle {
    cancel: CancellationToken,
    task: JoinHandle<()>,
    status: Arc<PipelineStatus>,
}

impl PipelineHandle {
    /// Starts the pipeline of `connector` on the current tokio runtime; it
    /// delivers while `tenure` holds and counts into `metrics`.
    pub fn spawn(
        repository: ConnectorRepository,
        stages: Arc<dyn StageFactory>,
        connector: ConnectorState,
        tenure: Tenure,
        metrics: ConnectorMetrics,
    ) -> Self {
        Self::spawn_from(
            repository,
            stages,
            connector,
            tenure,
            SinkSource::Definition,
            metrics,
        )
    }

    /// Starts the pipeline of `connector` with the sink `make_sink` makes
    /// from the context a built sink would get (a mock sink, in tests).
    #[cfg(test)]
    pub(crate) fn spawn_with_sink(
        repository: ConnectorRepository,
        stages: Arc<dyn StageFactory>,
        connector: ConnectorState,
        tenure: Tenure,
        make_sink: impl Fn(crate::sinks::SinkContext) -> Box<dyn crate::sinks::Sink>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        let source = SinkSource::Given(Arc::new(make_sink));
        let metrics = ConnectorMetrics::detached(connector.id.as_str());
        Self::spawn_from(repository, stages, connector, tenure, source, metrics)
    }

    fn spawn_from(
        repository: ConnectorRepository,
        stages: Arc<dyn StageFactory>,
        connector: ConnectorState,
        tenure: Tenure,
        sink: SinkSource,
        metrics: ConnectorMetrics,
    ) -> Self {
        let span = tracing::info_span!(
            "connector",
            connector = %connector.id,
            member = tracing::field::Empty
        );
        if let Some(owner) = tenure.owner() {
            span.record("member", owner.member.as_str());
        }
        let cancel = CancellationToken::new();
        let status = Arc::new(PipelineStatus::counting(
            RunState::Starting,
            metrics.clone(),
        ));
        let ctx = Arc::new(RunContext {
            repository,
            connector,
            tenure,
            status: Arc::clone(&status),
            cancel: cancel.clone(),
            metrics,
        });
        // Every line the pipeline, its stages and its sink log names the
        // connector (and the member running it).
        let task = tokio::spawn(run::run(ctx, stages, sink).instrument(span));
        Self {
            cancel,
            task,
            status,
        }
    }

    pub fn status(&self) -> &Arc<PipelineStatus> {
        &self.status
    }

    /// Whether the pipeline ended on its own (it faulted, or it may no
    /// longer deliver: its status is then `stopping`, with the reason).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Asks the pipeline to stop, checkpointing what was delivered, and waits
    /// up to `grace`; after that the task is aborted and waited for again,
    /// up to [`ABORT_WAIT`], so a stopped pipeline has ended (unless it is
    /// stuck where it cannot be aborted). Returns whether it stopped in time.
    pub async fn stop(mut self, grace: Duration) -> bool {
        self.cancel.cancel();
        if tokio::time::timeout(grace, &mut self.task).await.is_ok() {
            return true;
        }
        self.task.abort();
        if tokio::time::timeout(ABORT_WAIT, self.task).await.is_err() {
            tracing::warn!(
                wait_ms = ABORT_WAIT.as_millis() as u64,
                "an aborted pipeline has not ended yet; it is left behind"
            );
        }
        false
    }
}

/// How long an aborted pipeline is waited for before it is left behind.
pub const ABORT_WAIT: Duration = Duration::from_secs(2);
