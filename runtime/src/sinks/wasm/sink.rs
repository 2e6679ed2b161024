use async_trait::async_trait;

use super::WasmSinkConfig;
use crate::sinks::retry::RetryPolicy;
use crate::sinks::{
    BatchLimits, DeliveryOutcome, Rejection, RetryNotice, Sink, SinkContext, SinkError,
};
use crate::store::RecordedEvent;
use crate::wasm::{GuestError, GuestErrorKind, SinkOutcome, SinkStage, StageError};

/// Runs a custom sink component: per-event `invalid-event` failures are
/// refused events (dead-lettered or faulting, as the connector says);
/// `retryable` failures retry the batch with back-off; `fatal` failures,
/// traps and broken limits fault the connector. When a refused event faults
/// the connector (`onFailure: fault`), the component gets one event per
/// call, so nothing after the refused event is sent.
pub struct WasmSink {
    stage: SinkStage,
    limits: BatchLimits,
    policy: RetryPolicy,
    ctx: SinkContext,
}

impl WasmSink {
    pub fn new(stage: SinkStage, config: &WasmSinkConfig, ctx: SinkContext) -> Self {
        Self {
            stage,
            limits: config.batch.limits(),
            policy: RetryPolicy::new(&config.retry),
            ctx,
        }
    }
}

/// What one call came to.
enum Attempt {
    Done(Vec<DeliveryOutcome>),
    Retry(String),
}

fn rejected(error: &GuestError) -> DeliveryOutcome {
    DeliveryOutcome::Rejected(Rejection::new(error.message.clone()))
}

fn settle(outcomes: Vec<SinkOutcome>) -> Result<Attempt, SinkError> {
    let mut settled = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        settled.push(match outcome {
            SinkOutcome::Delivered => DeliveryOutcome::Delivered,
            SinkOutcome::Failed(e) => match e.kind {
                GuestErrorKind::InvalidEvent => rejected(&e),
                GuestErrorKind::Retryable => return Ok(Attempt::Retry(e.message)),
                GuestErrorKind::Fatal => return Err(SinkError::ComponentFatal(e.message)),
            },
        });
    }
    Ok(Attempt::Done(settled))
}

#[async_trait]
impl Sink for WasmSink {
    fn batch_limits(&self) -> BatchLimits {
        self.limits
    }

    async fn deliver(
        &mut self,
        batch: &[RecordedEvent],
    ) -> Result<Vec<DeliveryOutcome>, SinkError> {
        if !self.ctx.stop_at_first_rejection {
            return self.call(batch).await;
        }
        // A component given a batch sends all of it before answering, so
        // when a refused event must stop the connector it gets one event per
        // call: nothing after the refused event is ever sent.
        let mut outcomes = Vec::with_capacity(batch.len());
        for event in batch {
            let outcome = self.call(std::slice::from_ref(event)).await?;
            let refused = !matches!(outcome.as_slice(), [DeliveryOutcome::Delivered]);
            outcomes.extend(outcome);
            if refused {
                break;
            }
        }
        Ok(outcomes)
    }
}

impl WasmSink {
    /// Calls the component with `batch`, retrying what it reports as
    /// retryable with the retry policy.
    async fn call(&mut self, batch: &[RecordedEvent]) -> Result<Vec<DeliveryOutcome>, SinkError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let attempt = match self.stage.deliver(batch).await {
                Ok(outcomes) => settle(outcomes)?,
                Err(StageError::Batch(e)) => match e.kind {
                    GuestErrorKind::Retryable => Attempt::Retry(e.message),
                    GuestErrorKind::InvalidEvent => {
                        Attempt::Done(batch.iter().map(|_| rejected(&e)).collect())
                    }
                    GuestErrorKind::Fatal => return Err(SinkError::ComponentFatal(e.message)),
                },
                Err(e) => return Err(SinkError::ComponentBroke(e)),
            };
            match attempt {
                Attempt::Done(outcomes) => return Ok(outcomes),
                Attempt::Retry(message) if !self.policy.may_retry(attempts) => {
                    let error = GuestError {
                        kind: GuestErrorKind::Retryable,
                        message: format!("gave up after {attempts} attempts: {message}"),
                    };
                    return Ok(batch.iter().map(|_| rejected(&error)).collect());
                }
                Attempt::Retry(message) => {
                    let wait = self.policy.wait(attempts, None);
                    (self.ctx.on_retry)(RetryNotice {
                        attempt: attempts,
                        error: message,
                        wait,
                    });
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
