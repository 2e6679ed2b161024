//! Test support: a mock sink the real pipeline delivers to in-process, and
//! a stage factory without WebAssembly.
//!
//! A [`MockSink`] follows a script per call: accept the batch, fail it
//! retryably a few times first (reported through the context's retry
//! notices, as the real sinks do, then accepted), or stall until released.
//! It refuses for good the events a test names (by stream revision) and
//! honours `stop_at_first_rejection`. Whatever it accepted is visible to
//! the test through a [`SinkProbe`], which can also wait for a count.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{watch, Notify};

use crate::connector::TransformConfig;
use crate::outbound::DestinationPolicy;
use crate::sinks::wasm::WasmSinkConfig;
use crate::sinks::{
    BatchLimits, DeliveryOutcome, Rejection, RetryNotice, Sink, SinkContext, SinkError,
};
use crate::store::RecordedEvent;
use crate::wasm::{GuestIdentity, SinkStage, TransformStage};

use super::stages::{StageBuildError, StageFactory};

/// What the mock does with one call of `deliver`.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Delivers the batch (save the refused events).
    Accept,
    /// Fails `times` times retryably (each reported as a retry notice),
    /// then delivers.
    FailRetryably { times: u32 },
    /// Never answers, until [`SinkProbe::release`] (then delivers).
    Stall,
}

/// What a test sees of its mock sink.
#[derive(Clone)]
pub struct SinkProbe {
    shared: Arc<Shared>,
    count: watch::Receiver<usize>,
    stalled: watch::Receiver<bool>,
}

impl SinkProbe {
    /// The events delivered so far, in the order they arrived.
    pub fn delivered(&self) -> Vec<RecordedEvent> {
        self.shared.delivered.lock().expect("delivered").clone()
    }

    /// Waits until at least `count` events were delivered (fails the test
    /// after a generous bound, so a broken pipeline does not hang it).
    pub async fn wait_for(&self, count: usize) {
        let mut receiver = self.count.clone();
        tokio::time::timeout(WAIT_BOUND, receiver.wait_for(|n| *n >= count))
            .await
            .expect("the sink received the events in time")
            .expect("the sink is alive");
    }

    /// Waits until the sink stalls on a call.
    pub async fn wait_until_stalled(&self) {
        let mut receiver = self.stalled.clone();
        tokio::time::timeout(WAIT_BOUND, receiver.wait_for(|stalled| *stalled))
            .await
            .expect("the sink stalled in time")
            .expect("the sink is alive");
    }

    /// Whether a call is stalled now.
    pub fn is_stalled(&self) -> bool {
        *self.stalled.borrow()
    }

    /// Lets a stalled call deliver its batch.
    pub fn release(&self) {
        self.shared.release.notify_one();
    }
}

/// The most a test waits for the pipeline (a bound against hangs, not a
/// timing assertion).
pub const WAIT_BOUND: Duration = Duration::from_secs(20);

/// What every sink of one mock destination shares: the script, the
/// refused revisions and what was delivered.
struct Shared {
    limits: BatchLimits,
    script: Mutex<VecDeque<Step>>,
    refused: HashSet<u64>,
    delivered: Mutex<Vec<RecordedEvent>>,
    count: watch::Sender<usize>,
    stalled: watch::Sender<bool>,
    release: Notify,
}

/// A destination the pipeline's sinks (one per lane) deliver to; see the
/// module overview.
#[derive(Clone)]
pub struct MockDestination {
    shared: Arc<Shared>,
}

impl MockDestination {
    /// A destination that accepts every call (once `script` runs out; the
    /// script is shared by all its sinks, call by call) in batches of at
    /// most `max_events`, refusing the events whose revision is in
    /// `refused`; with the probe to watch it.
    pub fn new(
        max_events: usize,
        script: impl IntoIterator<Item = Step>,
        refused: impl IntoIterator<Item = u64>,
    ) -> (Self, SinkProbe) {
        let (count, count_rx) = watch::channel(0);
        let (stalled, stalled_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            limits: BatchLimits {
                max_events,
                max_bytes: 1024 * 1024,
                linger: Duration::from_millis(1),
            },
            script: Mutex::new(script.into_iter().collect()),
            refused: refused.into_iter().collect(),
            delivered: Mutex::new(Vec::new()),
            count,
            stalled,
            release: Notify::new(),
        });
        let probe = SinkProbe {
            shared: Arc::clone(&shared),
            count: count_rx,
            stalled: stalled_rx,
        };
        (Self { shared }, probe)
    }

    /// A sink delivering here, with the context the pipeline gave it.
    pub fn sink(&self, ctx: SinkContext) -> MockSink {
        MockSink {
            ctx,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// One sink of a [`MockDestination`].
pub struct MockSink {
    ctx: SinkContext,
    shared: Arc<Shared>,
}

#[async_trait]
impl Sink for MockSink {
    fn batch_limits(&self) -> BatchLimits {
        self.shared.limits
    }

    async fn deliver(
        &mut self,
        batch: &[RecordedEvent],
    ) -> Result<Vec<DeliveryOutcome>, SinkError> {
        let shared = &self.shared;
        let step = shared
            .script
            .lock()
            .expect("script")
            .pop_front()
            .unwrap_or(Step::Accept);
        match step {
            Step::Accept => {}
            Step::FailRetryably { times } => {
                for attempt in 1..=times {
                    (self.ctx.on_retry)(RetryNotice {
                        attempt,
                        error: "the mock destination is unavailable".into(),
                        wait: Duration::ZERO,
                    });
                }
            }
            Step::Stall => {
                shared.stalled.send_replace(true);
                shared.release.notified().await;
                shared.stalled.send_replace(false);
            }
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut delivered = shared.delivered.lock().expect("delivered");
        for event in batch {
            if shared.refused.contains(&event.revision) {
                outcomes.push(DeliveryOutcome::Rejected(Rejection::new(format!(
                    "the mock refuses revision {}",
                    event.revision
                ))));
                if self.ctx.stop_at_first_rejection {
                    break;
                }
                continue;
            }
            delivered.push(event.clone());
            outcomes.push(DeliveryOutcome::Delivered);
        }
        shared.count.send_replace(delivered.len());
        Ok(outcomes)
    }
}

/// A stage factory for connectors without WebAssembly stages.
pub struct NoStages;

#[async_trait]
impl StageFactory for NoStages {
    async fn transform(
        &self,
        _identity: GuestIdentity,
        config: &TransformConfig,
    ) -> Result<TransformStage, StageBuildError> {
        Err(StageBuildError::Other(format!(
            "no module `{}` in these tests",
            config.module
        )))
    }

    async fn sink(
        &self,
        _identity: GuestIdentity,
        config: &WasmSinkConfig,
    ) -> Result<SinkStage, StageBuildError> {
        Err(StageBuildError::Other(format!(
            "no module `{}` in these tests",
            config.module
        )))
    }

    fn destinations(&self) -> Arc<DestinationPolicy> {
        Arc::new(DestinationPolicy::default())
    }
}
