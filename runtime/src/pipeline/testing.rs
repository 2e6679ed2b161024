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
    delivered: Arc<Mutex<Vec<RecordedEvent>>>,
    count: watch::Receiver<usize>,
    stalled: watch::Receiver<bool>,
    release: Arc<Notify>,
}

impl SinkProbe {
    /// The events delivered so far, in the order they arrived.
    pub fn delivered(&self) -> Vec<RecordedEvent> {
        self.delivered.lock().expect("delivered").clone()
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

    /// Lets a stalled call deliver its batch.
    pub fn release(&self) {
        self.release.notify_one();
    }
}

/// The most a test waits for the pipeline (a bound against hangs, not a
/// timing assertion).
pub const WAIT_BOUND: Duration = Duration::from_secs(20);

/// A sink scripted per call; see the module overview.
pub struct MockSink {
    ctx: SinkContext,
    limits: BatchLimits,
    script: VecDeque<Step>,
    refused: HashSet<u64>,
    delivered: Arc<Mutex<Vec<RecordedEvent>>>,
    count: watch::Sender<usize>,
    stalled: watch::Sender<bool>,
    release: Arc<Notify>,
}

impl MockSink {
    /// A sink that accepts every call (once `script` runs out) in batches
    /// of at most `max_events`, refusing the events whose revision is in
    /// `refused`; with the probe to watch it.
    pub fn new(
        ctx: SinkContext,
        max_events: usize,
        script: impl IntoIterator<Item = Step>,
        refused: impl IntoIterator<Item = u64>,
    ) -> (Self, SinkProbe) {
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let (count, count_rx) = watch::channel(0);
        let (stalled, stalled_rx) = watch::channel(false);
        let release = Arc::new(Notify::new());
        let probe = SinkProbe {
            delivered: Arc::clone(&delivered),
            count: count_rx,
            stalled: stalled_rx,
            release: Arc::clone(&release),
        };
        let sink = Self {
            ctx,
            limits: BatchLimits {
                max_events,
                max_bytes: 1024 * 1024,
                linger: Duration::from_millis(1),
            },
            script: script.into_iter().collect(),
            refused: refused.into_iter().collect(),
            delivered,
            count,
            stalled,
            release,
        };
        (sink, probe)
    }
}

#[async_trait]
impl Sink for MockSink {
    fn batch_limits(&self) -> BatchLimits {
        self.limits
    }

    async fn deliver(
        &mut self,
        batch: &[RecordedEvent],
    ) -> Result<Vec<DeliveryOutcome>, SinkError> {
        match self.script.pop_front().unwrap_or(Step::Accept) {
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
                self.stalled.send_replace(true);
                self.release.notified().await;
                self.stalled.send_replace(false);
            }
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        for event in batch {
            if self.refused.contains(&event.revision) {
                outcomes.push(DeliveryOutcome::Rejected(Rejection::new(format!(
                    "the mock refuses revision {}",
                    event.revision
                ))));
                if self.ctx.stop_at_first_rejection {
                    break;
                }
                continue;
            }
            self.delivered
                .lock()
                .expect("delivered")
                .push(event.clone());
            outcomes.push(DeliveryOutcome::Delivered);
        }
        let total = self.delivered.lock().expect("delivered").len();
        self.count.send_replace(total);
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
