//! `POST /preview`: runs a filter and transform chain over real events
//! without creating anything, and says what would be delivered, dropped or
//! dead-lettered.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ApiError;
use super::json::StrictJson;
use super::AppState;
use crate::connector::{FilterConfig, TransformConfig};
use crate::pipeline::{Chain, ChainError, InputResult, NamedStage, StageFactory};
use crate::sinks::envelope::envelope;
use crate::store::{AllStart, ContentType, Direction, Position, RecordedEvent};
use crate::wasm::GuestIdentity;

const MAX_EVENTS: usize = 1000;
/// How far back `last` looks for events that pass the filter.
const MAX_SCANNED: usize = 100_000;

/// What to try.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PreviewRequest {
    /// The stages to run, as in a connector definition.
    #[serde(default)]
    transforms: Vec<TransformConfig>,
    /// The built-in filter, as in a connector definition.
    #[serde(default)]
    filter: FilterConfig,
    /// Run over the last `last` events of the log that pass the filter
    /// (default 10, at most 1000).
    last: Option<usize>,
    /// Or run over these events instead.
    events: Option<Vec<SampleEvent>>,
}

/// An event given in the request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SampleEvent {
    #[serde(default = "default_stream")]
    stream: String,
    event_type: String,
    data: serde_json::Value,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

fn default_stream() -> String {
    "preview-1".into()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PreviewResult {
    event: serde_json::Value,
    /// `delivered`, `dropped` or `dead-lettered`.
    outcome: &'static str,
    /// What the sink would receive (envelopes), when delivered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    records: Vec<serde_json::Value>,
    /// The stage that dropped or failed the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Summary {
    delivered: usize,
    dropped: usize,
    dead_lettered: usize,
}

pub async fn preview(
    State(state): State<AppState>,
    StrictJson(request): StrictJson<PreviewRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let filter = request.filter.compile()?;
    for (i, transform) in request.transforms.iter().enumerate() {
        transform.validate(&format!("transforms[{i}]"))?;
    }
    let events = match request.events {
        Some(samples) => {
            if samples.len() > MAX_EVENTS {
                return Err(ApiError::bad_request(
                    "invalid-body",
                    format!("at most {MAX_EVENTS} events can be previewed at once"),
                ));
            }
            samples
                .into_iter()
                .enumerate()
                .map(|(i, s)| sample(i, s))
                .collect()
        }
        None => {
            let last = request.last.unwrap_or(10);
            if last == 0 || last > MAX_EVENTS {
                return Err(ApiError::bad_request(
                    "invalid-body",
                    format!("at `last`: must be between 1 and {MAX_EVENTS}, e.g. `10`"),
                ));
            }
            let mut events = last_events(&state, last, |e| {
                filter.store.matches(e)
                    && filter.json_path.as_ref().is_none_or(|p| p.matches(&e.data))
            })
            .await?;
            events.reverse();
            events
        }
    };

    let mut stages = Vec::new();
    for (i, config) in request.transforms.iter().enumerate() {
        let name = format!("transforms[{i}] ({})", config.module);
        let identity = GuestIdentity {
            connector: "preview".into(),
            stage: name.clone(),
            secrets: config.secrets.values().cloned().collect(),
        };
        let stage = StageFactory::transform(&state.modules, identity, config)
            .await
            .map_err(|e| ApiError::bad_request("invalid-module", format!("{name}: {e}")))?;
        stages.push(NamedStage { name, stage });
    }
    let results = Chain::new(stages).run(&events).await.map_err(|e| {
        let (ChainError::Retry(message) | ChainError::Fault(message)) = e;
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "stage-failed",
            message,
        )
    })?;

    let mut summary = Summary::default();
    let results: Vec<PreviewResult> = events
        .iter()
        .zip(results)
        .map(|(event, result)| {
            let shown = envelope(event);
            match result {
                InputResult::Emitted(records) => {
                    summary.delivered += 1;
                    PreviewResult {
                        event: shown,
                        outcome: "delivered",
                        records: records.iter().map(envelope).collect(),
                        stage: None,
                        reason: None,
                    }
                }
                InputResult::Dropped { stage } => {
                    summary.dropped += 1;
                    PreviewResult {
                        event: shown,
                        outcome: "dropped",
                        records: Vec::new(),
                        stage: Some(stage),
                        reason: None,
                    }
                }
                InputResult::Failed { stage, error } => {
                    summary.dead_lettered += 1;
                    PreviewResult {
                        event: shown,
                        outcome: "dead-lettered",
                        records: Vec::new(),
                        stage: Some(stage),
                        reason: Some(error.message),
                    }
                }
            }
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "results": results, "summary": summary }),
    ))
}

fn sample(i: usize, s: SampleEvent) -> RecordedEvent {
    RecordedEvent {
        id: Uuid::new_v4(),
        stream: s.stream,
        revision: i as u64,
        position: Position::new(i as u64 + 1, i as u64 + 1),
        event_type: s.event_type,
        content_type: ContentType::Json,
        created: Utc::now(),
        data: serde_json::to_vec(&s.data).unwrap_or_default(),
        metadata: s
            .metadata
            .map(|m| serde_json::to_vec(&m).unwrap_or_default())
            .unwrap_or_default(),
    }
}

/// The newest `count` events that pass `keep`, newest first.
async fn last_events(
    state: &AppState,
    count: usize,
    keep: impl Fn(&RecordedEvent) -> bool,
) -> Result<Vec<RecordedEvent>, ApiError> {
    let mut found = Vec::new();
    let mut scanned = 0;
    let mut from = AllStart::End;
    while found.len() < count && scanned < MAX_SCANNED {
        let page = state
            .store
            .read_all(Direction::Backwards, from, 1000)
            .await?;
        scanned += page.len();
        found.extend(
            page.iter()
                .filter(|e| keep(e))
                .take(count - found.len())
                .cloned(),
        );
        match page.last() {
            Some(last) if page.len() == 1000 && last.position.commit > 1 => {
                let p = last.position.commit - 1;
                from = AllStart::Position(Position::new(p, p));
            }
            _ => break,
        }
    }
    Ok(found)
}
