//! Transform and sink stages: one instance each, called per batch. Each
//! stage remembers which uploaded module version ([`ModuleOrigin`]) it runs,
//! so a connector's status can show it; `init` checks a stage's config
//! before any event (see [`TransformStage::init`]).

use std::sync::Arc;

use wasmtime::component::{Component, Func, Linker};
use wasmtime::{Engine, Store};

use super::bindings::types;
use super::bindings::{sink, transform};
use super::convert::{self, BatchIds, GuestEvent, SinkOutcome, StageOutcome};
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

/// Instantiates `pre`'s component and finds its batch export `name`.
async fn instantiate_with<B>(
    pre: &wasmtime::component::InstancePre<HostState>,
    store: &mut Store<HostState>,
    name: &str,
    bindings: impl FnOnce(&mut Store<HostState>, &wasmtime::component::Instance) -> wasmtime::Result<B>,
) -> wasmtime::Result<(B, Func)> {
    let instance = pre.instantiate_async(&mut *store).await?;
    let bindings = bindings(store, &instance)?;
    let batch = instance
        .get_func(&mut *store, name)
        .ok_or_else(|| wasmtime::Error::msg(format!("the component has no `{name}` export")))?;
    Ok((bindings, batch))
}

impl Bindings for transform::Transform {
    type Pre = TransformPre;

    async fn instantiate(
        pre: &TransformPre,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<(Self, Func)> {
        instantiate_with(pre.instance_pre(), store, "transform", |store, instance| {
            Self::new(store, instance)
        })
        .await
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

    async fn instantiate(
        pre: &SinkPre,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<(Self, Func)> {
        instantiate_with(pre.instance_pre(), store, "deliver", |store, instance| {
            Self::new(store, instance)
        })
        .await
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

/// Passes a batch of borrowed events to the batch export and lifts its
/// answer: one `A` per event, or an error for the whole batch.
async fn call_batch<A>(
    batch: &Func,
    store: &mut Store<HostState>,
    events: &[GuestEvent<'_>],
) -> wasmtime::Result<Result<Vec<A>, types::Error>>
where
    A: wasmtime::component::Lift + Send + Sync + 'static,
{
    let typed = batch.typed::<(&[GuestEvent<'_>],), (Result<Vec<A>, types::Error>,)>(&*store)?;
    let (answer,) = typed.call_async(&mut *store, (events,)).await?;
    Ok(answer)
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

/// The uploaded module version a stage runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleOrigin {
    /// The module's name.
    pub module: String,
    /// `sha256:<hex>` of the bytes the stage runs.
    pub digest: String,
    /// Whether the connector pins this digest (`name@sha256:...`) rather
    /// than following the name's latest upload.
    pub pinned: bool,
}

/// A filter or transform component, called once per batch.
pub struct TransformStage {
    instance: Instance<transform::Transform>,
    max_output_bytes: usize,
    origin: Option<ModuleOrigin>,
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
            origin: None,
        }
    }

    /// Records which module version this stage runs.
    pub fn with_origin(mut self, origin: ModuleOrigin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// The module version this stage runs, when it came from the registry.
    pub fn origin(&self) -> Option<&ModuleOrigin> {
        self.origin.as_ref()
    }

    /// Instantiates the component and calls its `init` with the stage's
    /// config now, under the stage's limits.
    pub async fn init(&mut self) -> Result<(), StageError> {
        self.instance.ensure_live().await
    }

    /// One outcome per event, in order.
    pub async fn transform(
        &mut self,
        events: &[RecordedEvent],
    ) -> Result<Vec<StageOutcome>, StageError> {
        let ids = BatchIds::new(events);
        let input = ids.events(events);
        let answer = self
            .instance
            .call("transform", input.as_slice(), |batch, store, input| {
                Box::pin(call_batch::<types::Outcome>(batch, store, input))
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
    origin: Option<ModuleOrigin>,
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
            origin: None,
        }
    }

    /// Records which module version this stage runs.
    pub fn with_origin(mut self, origin: ModuleOrigin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// The module version this stage runs, when it came from the registry.
    pub fn origin(&self) -> Option<&ModuleOrigin> {
        self.origin.as_ref()
    }

    /// Instantiates the component and calls its `init` with the stage's
    /// config now, under the stage's limits.
    pub async fn init(&mut self) -> Result<(), StageError> {
        self.instance.ensure_live().await
    }

    /// One outcome per event, in order.
    pub async fn deliver(
        &mut self,
        events: &[RecordedEvent],
    ) -> Result<Vec<SinkOutcome>, StageError> {
        let ids = BatchIds::new(events);
        let input = ids.events(events);
        let answer = self
            .instance
            .call("deliver", input.as_slice(), |batch, store, input| {
                Box::pin(call_batch::<types::Delivery>(batch, store, input))
            })
            .await?;
        let deliveries = answer.map_err(|e| StageError::Batch(e.into()))?;
        one_per_event(deliveries.len(), events.len(), "deliveries")?;
        Ok(deliveries.into_iter().map(convert::delivery).collect())
    }
}
