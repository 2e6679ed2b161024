//! Transform and sink stages: one instance each, called per batch.

use std::sync::Arc;

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

use super::bindings::{sink, transform};
use super::convert::{self, SinkOutcome, StageOutcome};
use super::host_state::HostState;
use super::identity::GuestIdentity;
use super::instance::{Bindings, Instance};
use super::outgoing::OutgoingHttp;
use super::{GuestError, StageError, StageLimits};
use crate::store::RecordedEvent;

type TransformPre = transform::TransformPre<HostState>;
type SinkPre = sink::SinkPre<HostState>;

/// Pre-instantiates `component` as a transform, or says why it is not one.
pub(super) fn transform_pre(
    linker: &Linker<HostState>,
    component: &Component,
) -> Result<TransformPre, String> {
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| format!("{e:#}"))?;
    TransformPre::new(pre).map_err(|e| format!("{e:#}"))
}

/// Pre-instantiates `component` as a sink, or says why it is not one.
pub(super) fn sink_pre(
    linker: &Linker<HostState>,
    component: &Component,
) -> Result<SinkPre, String> {
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| format!("{e:#}"))?;
    SinkPre::new(pre).map_err(|e| format!("{e:#}"))
}

impl Bindings for transform::Transform {
    type Pre = TransformPre;

    async fn instantiate(
        pre: &TransformPre,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Self> {
        pre.instantiate_async(store).await
    }

    async fn init(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), GuestError>> {
        Ok(self
            .call_init(store, config)
            .await?
            .map_err(GuestError::from))
    }
}

impl Bindings for sink::Sink {
    type Pre = SinkPre;

    async fn instantiate(pre: &SinkPre, store: &mut Store<HostState>) -> wasmtime::Result<Self> {
        pre.instantiate_async(store).await
    }

    async fn init(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), GuestError>> {
        Ok(self
            .call_init(store, config)
            .await?
            .map_err(GuestError::from))
    }
}

/// The contract: one answer per input event.
fn one_per_event(answered: usize, events: usize, what: &str) -> Result<(), StageError> {
    if answered == events {
        return Ok(());
    }
    Err(StageError::Trap(format!(
        "the component answered {answered} {what} for {events} events; it must answer one per event"
    )))
}

/// A filter or transform component, called once per batch.
pub struct TransformStage {
    instance: Instance<transform::Transform>,
    max_output_bytes: usize,
}

impl TransformStage {
    pub(super) fn new(
        engine: Engine,
        pre: TransformPre,
        identity: GuestIdentity,
        config: String,
        limits: StageLimits,
    ) -> Self {
        Self {
            max_output_bytes: limits.max_output_bytes,
            instance: Instance::new(engine, pre, identity, config, limits, None),
        }
    }

    /// One outcome per event, in order.
    pub async fn transform(
        &mut self,
        events: &[RecordedEvent],
    ) -> Result<Vec<StageOutcome>, StageError> {
        let input: Vec<_> = events.iter().map(convert::event).collect();
        let answer = self
            .instance
            .call("transform", move |bindings, store| {
                Box::pin(async move { bindings.call_transform(store, &input).await })
            })
            .await?;
        let outcomes = answer.map_err(|e| StageError::Batch(e.into()))?;
        one_per_event(outcomes.len(), events.len(), "outcomes")?;
        let bytes = convert::output_bytes(&outcomes);
        if bytes > self.max_output_bytes {
            return Err(StageError::Trap(format!(
                "the component emitted {bytes} bytes for a batch of {} events, more than the limit of {} bytes",
                events.len(),
                self.max_output_bytes
            )));
        }
        Ok(outcomes.into_iter().map(convert::outcome).collect())
    }
}

/// A sink component, called once per batch.
pub struct SinkStage {
    instance: Instance<sink::Sink>,
}

impl SinkStage {
    pub(super) fn new(
        engine: Engine,
        pre: SinkPre,
        identity: GuestIdentity,
        config: String,
        limits: StageLimits,
        outgoing: OutgoingHttp,
    ) -> Self {
        Self {
            instance: Instance::new(
                engine,
                pre,
                identity,
                config,
                limits,
                Some(Arc::new(outgoing)),
            ),
        }
    }

    /// One outcome per event, in order.
    pub async fn deliver(
        &mut self,
        events: &[RecordedEvent],
    ) -> Result<Vec<SinkOutcome>, StageError> {
        let input: Vec<_> = events.iter().map(convert::event).collect();
        let answer = self
            .instance
            .call("deliver", move |bindings, store| {
                Box::pin(async move { bindings.call_deliver(store, &input).await })
            })
            .await?;
        let deliveries = answer.map_err(|e| StageError::Batch(e.into()))?;
        one_per_event(deliveries.len(), events.len(), "deliveries")?;
        Ok(deliveries.into_iter().map(convert::delivery).collect())
    }
}
