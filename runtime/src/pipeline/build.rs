//! What a pipeline builds before it reads: its transform chain (each stage
//! `init`ed at once, so a config its component refuses faults the
//! connector at its start rather than at its first event) and its sink,
//! whose retry notices show in the connector's status.

use std::sync::Arc;

use crate::sinks::wasm::WasmSinkConfig;
use crate::sinks::{BatchLimits, RetryNotice, Sink, SinkConfig, SinkContext};
use crate::wasm::{GuestIdentity, SinkStage};

use super::chain_build::{self, ChainBuildError};
use super::context::RunContext;
use super::fault::Fault;
use super::module_stages::StageModule;
use super::stages::StageFactory;
use super::transforms::Chain;

/// Where a pipeline's sink comes from.
pub(super) enum SinkSource {
    /// Built from the connector's definition.
    Definition,
    /// Made by the caller, given the context a built sink would get (tests
    /// run the real pipeline against a mock sink this way).
    #[cfg(test)]
    Given(Arc<dyn Fn(SinkContext) -> Box<dyn Sink> + Send + Sync>),
}

/// The connector's transform stages, built and initialised, in order.
pub(super) async fn build_chain(
    ctx: &RunContext,
    stages: &dyn StageFactory,
) -> Result<Chain, Fault> {
    let connector = &ctx.connector;
    let chain = chain_build::build_counted_chain(
        stages,
        connector.id.as_str(),
        &connector.definition.transforms,
        &ctx.metrics.instances,
    )
    .await
    .map_err(|e| match e {
        ChainBuildError::Build { stage, error, .. } => Fault::StageBuild { stage, error },
        ChainBuildError::Init { stage, error, .. } => Fault::StageInit { stage, error },
    })?;
    Ok(chain.timed(|stage| ctx.metrics.stage_timer(stage)))
}

/// `count` sinks of the connector (at least one), from `source`: one per
/// delivery lane, forked from the first where the sink allows it (an HTTP
/// sink's lanes share its client), else each built alone; with the batch
/// shape they want.
pub(super) async fn build_sinks(
    ctx: &RunContext,
    stages: &dyn StageFactory,
    source: &SinkSource,
    count: usize,
) -> Result<(BatchLimits, Vec<Box<dyn Sink>>), Fault> {
    let first = build_sink(ctx, stages, source, true).await?;
    let limits = first.batch_limits();
    let mut sinks = Vec::with_capacity(count.max(1));
    for _ in 1..count.max(1) {
        let sibling = match first.fork() {
            Some(sibling) => sibling,
            None => build_sink(ctx, stages, source, false).await?,
        };
        sinks.push(sibling);
    }
    sinks.insert(0, first);
    Ok((limits, sinks))
}

/// One sink of the connector, from `source`; the first one shows its
/// module in the status.
async fn build_sink(
    ctx: &RunContext,
    stages: &dyn StageFactory,
    source: &SinkSource,
    first: bool,
) -> Result<Box<dyn Sink>, Fault> {
    let sink_ctx = sink_context(ctx, stages);
    match source {
        SinkSource::Definition => {}
        #[cfg(test)]
        SinkSource::Given(make) => return Ok(make(sink_ctx)),
    }
    let sink = &ctx.connector.definition.sink;
    let component = match sink {
        SinkConfig::Wasm(config) => Some(sink_component(ctx, stages, config, first).await?),
        _ => None,
    };
    sink.build(sink_ctx, component).map_err(Fault::InvalidSink)
}

/// A custom sink's component, instantiated and initialised.
async fn sink_component(
    ctx: &RunContext,
    stages: &dyn StageFactory,
    config: &WasmSinkConfig,
    first: bool,
) -> Result<SinkStage, Fault> {
    let name = format!("sink ({})", config.module);
    let identity = GuestIdentity {
        connector: ctx.connector.id.to_string(),
        stage: name.clone(),
        secrets: config.secrets.values().cloned().collect(),
        counters: ctx.metrics.instances.clone(),
    };
    let mut stage = match stages.sink(identity, config).await {
        Ok(stage) => stage,
        Err(error) => return Err(Fault::StageBuild { stage: name, error }),
    };
    if let Err(error) = stage.init().await {
        return Err(Fault::StageInit { stage: name, error });
    }
    if let Some(origin) = stage.origin().filter(|_| first) {
        ctx.status
            .add_stage_module(StageModule::new("sink", origin));
    }
    Ok(stage)
}

/// What the sink is told: where it may connect, who delivers, whether to
/// stop at the first refused event, and where its retries are reported.
fn sink_context(ctx: &RunContext, stages: &dyn StageFactory) -> SinkContext {
    let retry_status = Arc::clone(&ctx.status);
    let retries = ctx.metrics.retries.clone();
    let id = ctx.connector.id.clone();
    SinkContext {
        connector_id: ctx.connector.id.to_string(),
        on_retry: Arc::new(move |notice: RetryNotice| {
            retries.inc();
            tracing::warn!(connector = %id, attempt = notice.attempt, wait_ms = notice.wait.as_millis() as u64, error = %retry_status.redact(&notice.error), "delivery failed, retrying");
            retry_status.set_retrying(true);
            retry_status.record_error(format!(
                "{} (retry {} in {} ms)",
                notice.error,
                notice.attempt,
                notice.wait.as_millis()
            ));
        }),
        stop_at_first_rejection: ctx.faults_on_failure(),
        destinations: stages.destinations(),
        owner: ctx.tenure.owner().cloned(),
        metrics: ctx.metrics.sink.clone(),
    }
}
