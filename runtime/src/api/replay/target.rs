//! What a letter is replayed through: the connector's current filter,
//! transform chain and sink, built as a create would build them.

use std::sync::Arc;

use super::super::error::ApiError;
use super::super::stage_errors::{chain_build_error, stage_build_error};
use super::super::AppState;
use crate::connector::{json_path, CompiledFilter, ConnectorState, ReplayOutcome, Verdict};
use crate::metrics::SinkMetrics;
use crate::pipeline::{build_chain, Chain, InputResult, StageConfigError, StageFactory};
use crate::sinks::{DeliveryOutcome, Sink, SinkConfig, SinkContext};
use crate::store::RecordedEvent;
use crate::wasm::GuestIdentity;

/// What a letter is replayed through: the connector's current filter,
/// transform chain and sink.
pub(super) struct Target {
    filter: CompiledFilter,
    chain: Chain,
    sink: Box<dyn Sink>,
}

impl Target {
    /// Builds the current definition's parts; what cannot be built is
    /// answered as creating the connector answers it.
    pub(super) async fn build(
        state: &AppState,
        connector: &ConnectorState,
    ) -> Result<Self, ApiError> {
        let definition = &connector.definition;
        let filter = definition.filter.compile()?;
        let owner = connector.id.as_str();
        let chain = build_chain(&state.modules, owner, &definition.transforms)
            .await
            .map_err(|e| chain_build_error(e, &definition.transforms))?;
        let ctx = SinkContext {
            connector_id: owner.to_owned(),
            on_retry: Arc::new(|_| {}),
            stop_at_first_rejection: false,
            destinations: state.modules.destinations(),
            owner: None,
            metrics: SinkMetrics::detached(),
        };
        let sink = match &definition.sink {
            SinkConfig::Http(config) => {
                // One attempt: the user replays again.
                let mut config = config.clone();
                config.retry.max_attempts = Some(1);
                SinkConfig::Http(config).build(ctx, None)?
            }
            SinkConfig::Wasm(config) => {
                let name = format!("sink ({})", config.module);
                let identity = GuestIdentity {
                    connector: owner.to_owned(),
                    stage: name.clone(),
                    secrets: config.secrets.values().cloned().collect(),
                    counters: Default::default(),
                };
                let mut stage = state
                    .modules
                    .sink(identity, config)
                    .await
                    .map_err(|e| stage_build_error(&name, e))?;
                stage
                    .init()
                    .await
                    .map_err(|error| StageConfigError::from_init("sink", &config.module, error))?;
                definition.sink.build(ctx, Some(stage))?
            }
            other => other.build(ctx, None)?,
        };
        Ok(Self {
            filter,
            chain,
            sink,
        })
    }

    /// Runs `event` through the filter, the chain and the sink, once.
    pub(super) async fn replay(&mut self, event: RecordedEvent) -> ReplayOutcome {
        if !self.filter.store.matches(&event) {
            return ReplayOutcome::Dropped {
                stage: "filter".into(),
            };
        }
        if let Some(path) = &self.filter.json_path {
            match path.evaluate_event(&event) {
                Verdict::Passes => {}
                Verdict::Fails => {
                    return ReplayOutcome::Dropped {
                        stage: json_path::FIELD.into(),
                    }
                }
                Verdict::Refused(reason) => {
                    return ReplayOutcome::Failed {
                        stage: json_path::FIELD.into(),
                        reason,
                    }
                }
            }
        }
        let records = match self.chain.run(std::slice::from_ref(&event)).await {
            Ok(mut outcomes) => match outcomes.pop() {
                Some(InputResult::Emitted(records)) => records,
                Some(InputResult::Dropped { stage }) => return ReplayOutcome::Dropped { stage },
                Some(InputResult::Failed { stage, error }) => {
                    return ReplayOutcome::Failed {
                        stage,
                        reason: error.message,
                    }
                }
                None => vec![event],
            },
            Err(e) => {
                return ReplayOutcome::Failed {
                    stage: "transforms".into(),
                    reason: e.to_string(),
                }
            }
        };
        if records.is_empty() {
            return ReplayOutcome::Delivered;
        }
        match self.sink.deliver(&records).await {
            Ok(outcomes) => {
                let refused = outcomes.into_iter().find_map(|o| match o {
                    DeliveryOutcome::Rejected(rejection) => Some(rejection.reason),
                    DeliveryOutcome::Delivered => None,
                });
                match refused {
                    Some(reason) => ReplayOutcome::Failed {
                        stage: "sink".into(),
                        reason,
                    },
                    None => ReplayOutcome::Delivered,
                }
            }
            Err(e) => ReplayOutcome::Failed {
                stage: "sink".into(),
                reason: e.to_string(),
            },
        }
    }
}
