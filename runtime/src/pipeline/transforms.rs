//! The chain of WebAssembly transform stages of a connector, run over each
//! batch, and how transformed records become events for the sink. A
//! pipeline's chain times each stage's call ([`Chain::timed`]).

use std::time::Instant;

use crate::metrics::StageTimer;
use crate::store::{ContentType, RecordedEvent};
use crate::wasm::{
    EmittedRecord, GuestError, GuestErrorKind, StageError, StageOutcome, TransformStage,
};

/// One named stage of the chain.
pub struct NamedStage {
    /// e.g. `transforms[0] (redact)`.
    pub name: String,
    pub stage: TransformStage,
}

/// What became of one input event.
#[derive(Debug, Clone, PartialEq)]
pub enum InputResult {
    /// Delivered as these events (one, or several when a stage fanned out).
    Emitted(Vec<RecordedEvent>),
    /// A stage dropped it.
    Dropped { stage: String },
    /// A stage failed it.
    Failed { stage: String, error: GuestError },
}

/// Why a batch could not go through the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// Try the batch again later: `stage` said it failed for now.
    #[error("{stage}: {}", .error.message)]
    Retry { stage: String, error: GuestError },
    /// The connector must stop: `stage` failed fatally, trapped or broke
    /// a limit.
    #[error("{stage}: {error}")]
    Fault { stage: String, error: StageError },
}

/// The connector's transform stages, in order.
#[derive(Default)]
pub struct Chain {
    stages: Vec<NamedStage>,
    /// One per stage when timed, else none.
    timers: Vec<StageTimer>,
}

impl Chain {
    pub fn new(stages: Vec<NamedStage>) -> Self {
        Self {
            stages,
            timers: Vec::new(),
        }
    }

    /// The chain, timing each stage's calls with the timer `timer_of`
    /// gives for its name.
    pub fn timed(mut self, timer_of: impl Fn(&str) -> StageTimer) -> Self {
        self.timers = self.stages.iter().map(|s| timer_of(&s.name)).collect();
        self
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// The stages, in order.
    pub fn stages(&self) -> &[NamedStage] {
        &self.stages
    }

    /// Runs `events` through every stage: one result per input event, in
    /// order.
    pub async fn run(&mut self, events: &[RecordedEvent]) -> Result<Vec<InputResult>, ChainError> {
        let mut results: Vec<InputResult> = events
            .iter()
            .map(|e| InputResult::Emitted(vec![e.clone()]))
            .collect();
        for (index, named) in self.stages.iter_mut().enumerate() {
            // The events still alive, with the input each came from.
            let (sources, alive): (Vec<usize>, Vec<RecordedEvent>) = results
                .iter_mut()
                .enumerate()
                .flat_map(|(i, r)| match r {
                    InputResult::Emitted(events) => std::mem::take(events)
                        .into_iter()
                        .map(move |e| (i, e))
                        .collect(),
                    _ => Vec::new(),
                })
                .unzip();
            if alive.is_empty() {
                break;
            }
            let started = Instant::now();
            let transformed = named.stage.transform(&alive).await;
            if let Some(timer) = self.timers.get(index) {
                timer.observe_since(started);
            }
            let outcomes = match transformed {
                Ok(outcomes) => outcomes,
                // The stage refuses the whole batch: every event of it fails.
                Err(StageError::Batch(error)) if error.kind == GuestErrorKind::InvalidEvent => {
                    for source in sources {
                        results[source] = InputResult::Failed {
                            stage: named.name.clone(),
                            error: error.clone(),
                        };
                    }
                    continue;
                }
                Err(e) => return Err(classify(&named.name, e)),
            };
            for ((source, event), outcome) in sources.into_iter().zip(alive).zip(outcomes) {
                let result = &mut results[source];
                let InputResult::Emitted(emitted) = result else {
                    continue; // an earlier fan-out sibling already failed it
                };
                match outcome {
                    StageOutcome::Emit(records) => {
                        let count = records.len();
                        emitted.extend(
                            records
                                .into_iter()
                                .enumerate()
                                .map(|(i, r)| derive(&event, r, i, count)),
                        );
                    }
                    // Becomes `Dropped` below unless a sibling record survives.
                    StageOutcome::Drop => {}
                    StageOutcome::Fail(error) => match error.kind {
                        GuestErrorKind::InvalidEvent => {
                            *result = InputResult::Failed {
                                stage: named.name.clone(),
                                error,
                            }
                        }
                        GuestErrorKind::Retryable => {
                            return Err(ChainError::Retry {
                                stage: named.name.clone(),
                                error,
                            })
                        }
                        GuestErrorKind::Fatal => {
                            return Err(ChainError::Fault {
                                stage: named.name.clone(),
                                error: StageError::Batch(error),
                            })
                        }
                    },
                }
            }
            // Inputs whose every record was dropped by this stage.
            for result in &mut results {
                if matches!(result, InputResult::Emitted(e) if e.is_empty()) {
                    *result = InputResult::Dropped {
                        stage: named.name.clone(),
                    };
                }
            }
        }
        Ok(results)
    }
}

fn classify(stage: &str, error: StageError) -> ChainError {
    let stage = stage.to_owned();
    match error {
        StageError::Batch(error) if error.kind == GuestErrorKind::Retryable => {
            ChainError::Retry { stage, error }
        }
        error => ChainError::Fault { stage, error },
    }
}

/// The event a transformed record stands for: the input's place in the log
/// (so checkpoints and ordering are unchanged), with the record's payload.
/// A fan-out's records get ids derived from the input's, the same on every
/// redelivery, so receivers can still de-duplicate.
pub fn derive(
    input: &RecordedEvent,
    record: EmittedRecord,
    index: usize,
    count: usize,
) -> RecordedEvent {
    let id = if count == 1 {
        input.id
    } else {
        uuid::Uuid::new_v5(&input.id, index.to_string().as_bytes())
    };
    let content_type = match record.content_type.as_deref() {
        None => input.content_type,
        Some(t) if t.starts_with("application/json") => ContentType::Json,
        Some(_) => ContentType::Binary,
    };
    let metadata = if record.headers.is_empty() {
        input.metadata.clone()
    } else {
        let mut object =
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&input.metadata)
                .unwrap_or_default();
        for (name, value) in record.headers {
            object.insert(name, serde_json::Value::String(value));
        }
        serde_json::to_vec(&object).unwrap_or_default().into()
    };
    RecordedEvent {
        id,
        event_type: record
            .event_type
            .unwrap_or_else(|| input.event_type.clone()),
        content_type,
        data: record.data.into(),
        metadata,
        ..input.clone()
    }
}
