//! `POST /preview`: runs a filter and transform chain over real events
//! (the last ones of the log, or events given inline) without creating
//! anything, and says what would be delivered, dropped or dead-lettered,
//! and by which stage. Inline events go through the same built-in filter a
//! connector applies (streams, event types, system events, JSONPath); an
//! event it drops names the setting (`filter.streams`, ...) as its stage.
//! A stage that cannot be built is the module's fault (`400
//! invalid-module`) unless the store could not be read (`503 unavailable`).

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ApiError;
use super::json::StrictJson;
use super::stage_errors::chain_build_error;
use super::AppState;
use crate::connector::{json_path, CompiledFilter, FilterConfig, TransformConfig, Verdict};
use crate::pipeline::{build_chain, InputResult};
use crate::sinks::envelope::envelope;
use crate::store::{
    event_bytes, AllStart, ContentType, Direction, Position, RecordedEvent, SubscriptionFilter,
};
use crate::wasm::{GuestError, GuestErrorKind};

const MAX_EVENTS: usize = 1000;
/// How far back `last` looks for events that pass the filter, in events and
/// in bytes.
const MAX_SCANNED: usize = 100_000;
pub const MAX_SCANNED_BYTES: usize = 64 * 1024 * 1024;
/// Bytes read from the store at a time.
const SCAN_PAGE_BYTES: usize = 8 * 1024 * 1024;
/// The most bytes of events a preview runs over.
pub const MAX_PREVIEW_BYTES: usize = 16 * 1024 * 1024;

/// What to try.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PreviewRequest {
    /// The stages to run, as in a connector definition.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
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
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SampleEvent {
    /// Default `preview-1`.
    #[serde(default = "default_stream")]
    stream: String,
    event_type: String,
    data: serde_json::Value,
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

fn default_stream() -> String {
    "preview-1".into()
}

/// What a preview answers: each event's outcome, and their counts.
#[derive(Serialize, utoipa::ToSchema)]
struct PreviewAnswer {
    results: Vec<PreviewResult>,
    summary: Summary,
}

/// One event's outcome.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct PreviewResult {
    /// The event run, as sinks receive it.
    #[schema(value_type = crate::connector::EventEnvelopeSchema)]
    event: serde_json::Value,
    /// `delivered`, `dropped` or `dead-lettered`.
    outcome: &'static str,
    /// What the sink would receive (envelopes), when delivered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<crate::connector::EventEnvelopeSchema>)]
    records: Vec<serde_json::Value>,
    /// The stage that dropped or failed the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct Summary {
    delivered: usize,
    dropped: usize,
    dead_lettered: usize,
}

/// `POST /preview`.
#[utoipa::path(
    post,
    path = "/preview",
    operation_id = "preview",
    tag = "preview",
    request_body(content = PreviewRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "What each event would become", body = PreviewAnswer),
        (status = 400, description = "An invalid body, filter or stage", body = super::error::ErrorBody),
        (status = 413, description = "The body, or the events to run over, are too large", body = super::error::ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "A WebAssembly stage refuses its `config`", body = super::error::ErrorBody),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    StrictJson(request): StrictJson<PreviewRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let filter = request.filter.compile()?;
    for (i, transform) in request.transforms.iter().enumerate() {
        transform.validate(&format!("transforms[{i}]"))?;
    }
    let events: Vec<(RecordedEvent, Screen)> = match request.events {
        Some(samples) => {
            if samples.len() > MAX_EVENTS {
                return Err(ApiError::bad_request(
                    "invalid-body",
                    format!("at most {MAX_EVENTS} events can be previewed at once"),
                ));
            }
            let samples: Vec<RecordedEvent> = samples
                .into_iter()
                .enumerate()
                .map(|(i, s)| sample(i, s))
                .collect();
            let mut screened = Vec::with_capacity(samples.len());
            let mut passing = Vec::new();
            for event in samples {
                match store_filter_refusal(&filter.store, &event) {
                    Some(stage) => screened.push((event, Screen::Dropped(stage))),
                    None => passing.push(event),
                }
            }
            let verdicts = json_path_verdicts(&filter, passing).await?;
            screened.extend(verdicts.into_iter().map(|(event, verdict)| {
                let screen = match verdict {
                    Verdict::Passes => Screen::Passes,
                    Verdict::Fails => Screen::Dropped(json_path::FIELD),
                    Verdict::Refused(reason) => Screen::Refused(reason),
                };
                (event, screen)
            }));
            // Back in the order they were given (revisions are their indexes).
            screened.sort_by_key(|(event, _)| event.revision);
            screened
        }
        None => {
            let last = request.last.unwrap_or(10);
            if last == 0 || last > MAX_EVENTS {
                return Err(ApiError::bad_request(
                    "invalid-body",
                    format!("at `last`: must be between 1 and {MAX_EVENTS}, e.g. `10`"),
                ));
            }
            let mut found = last_events(&state, last, &filter).await?;
            found.reverse();
            found
                .into_iter()
                .map(|(event, refusal)| {
                    let screen = match refusal {
                        Some(reason) => Screen::Refused(reason),
                        None => Screen::Passes,
                    };
                    (event, screen)
                })
                .collect()
        }
    };
    // Events the filter dropped or refused skip the stages, as in a connector.
    let runnable: Vec<RecordedEvent> = events
        .iter()
        .filter(|(_, screen)| matches!(screen, Screen::Passes))
        .map(|(event, _)| event.clone())
        .collect();

    let mut chain = build_chain(&state.modules, "preview", &request.transforms)
        .await
        .map_err(|e| chain_build_error(e, &request.transforms))?;
    let outcomes = chain.run(&runnable).await.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "stage-failed",
            e.to_string(),
        )
    })?;

    let mut outcomes = outcomes.into_iter();
    let mut summary = Summary::default();
    let mut results = Vec::with_capacity(events.len());
    for (event, screen) in &events {
        let shown = envelope(event);
        let outcome = match screen {
            Screen::Dropped(field) => InputResult::Dropped {
                stage: (*field).to_owned(),
            },
            Screen::Refused(reason) => InputResult::Failed {
                stage: json_path::FIELD.to_owned(),
                error: GuestError {
                    kind: GuestErrorKind::InvalidEvent,
                    message: reason.clone(),
                },
            },
            Screen::Passes => match outcomes.next() {
                Some(outcome) => outcome,
                None => break,
            },
        };
        results.push(match outcome {
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
        });
    }
    Ok(Json(PreviewAnswer { results, summary }))
}

/// What the built-in filter made of an event.
enum Screen {
    /// On to the stages.
    Passes,
    /// Not delivered; the filter setting that dropped it.
    Dropped(&'static str),
    /// The JSONPath filter could not evaluate it: dead-lettered.
    Refused(String),
}

/// The setting of the store-side filter that drops `event`, if one does,
/// checked as a connector's subscription checks it.
fn store_filter_refusal(
    filter: &SubscriptionFilter,
    event: &RecordedEvent,
) -> Option<&'static str> {
    if !filter.include_system_events && event.is_system() {
        return Some("filter.includeSystemEvents");
    }
    if filter
        .stream
        .as_ref()
        .is_some_and(|m| !m.matches(&event.stream))
    {
        return Some("filter.streams");
    }
    if filter
        .event_type
        .as_ref()
        .is_some_and(|m| !m.matches(&event.event_type))
    {
        return Some("filter.eventTypes");
    }
    debug_assert!(filter.matches(event));
    None
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
        data: serde_json::to_vec(&s.data).unwrap_or_default().into(),
        metadata: s
            .metadata
            .map(|m| serde_json::to_vec(&m).unwrap_or_default())
            .unwrap_or_default()
            .into(),
    }
}

/// The newest `count` events that pass `filter`, newest first, each with
/// the reason the JSONPath filter refused it, if it did. Reads at most
/// [`MAX_SCANNED`] events and [`MAX_SCANNED_BYTES`], keeps at most
/// [`MAX_PREVIEW_BYTES`], and evaluates JSONPath off the async threads.
async fn last_events(
    state: &AppState,
    count: usize,
    filter: &CompiledFilter,
) -> Result<Vec<(RecordedEvent, Option<String>)>, ApiError> {
    let mut found = Vec::new();
    let (mut scanned, mut scanned_bytes, mut found_bytes) = (0, 0, 0);
    let mut from = AllStart::End;
    while found.len() < count
        && scanned < MAX_SCANNED
        && scanned_bytes < MAX_SCANNED_BYTES
        && found_bytes < MAX_PREVIEW_BYTES
    {
        let page = state
            .store
            .read_all_page(Direction::Backwards, from, 1000, SCAN_PAGE_BYTES)
            .await?;
        scanned += page.events.len();
        scanned_bytes += page.events.iter().map(event_bytes).sum::<usize>();
        let next = match page.events.last() {
            Some(last)
                if (page.cut_short || page.events.len() == 1000) && last.position.commit > 1 =>
            {
                let p = last.position.commit - 1;
                Some(AllStart::Position(Position::new(p, p)))
            }
            _ => None,
        };
        let candidates: Vec<RecordedEvent> = page
            .events
            .into_iter()
            .filter(|e| filter.store.matches(e))
            .collect();
        for (event, verdict) in json_path_verdicts(filter, candidates).await? {
            if found.len() == count || found_bytes >= MAX_PREVIEW_BYTES {
                break;
            }
            let refusal = match verdict {
                Verdict::Passes => None,
                Verdict::Fails => continue,
                Verdict::Refused(reason) => Some(reason),
            };
            found_bytes += event_bytes(&event);
            found.push((event, refusal));
        }
        match next {
            Some(position) => from = position,
            None => break,
        }
    }
    Ok(found)
}

/// The JSONPath verdict on each event, computed on the blocking pool.
async fn json_path_verdicts(
    filter: &CompiledFilter,
    events: Vec<RecordedEvent>,
) -> Result<Vec<(RecordedEvent, Verdict)>, ApiError> {
    let Some(path) = filter.json_path.clone() else {
        return Ok(events.into_iter().map(|e| (e, Verdict::Passes)).collect());
    };
    tokio::task::spawn_blocking(move || {
        events
            .into_iter()
            .map(|e| {
                let verdict = path.evaluate_event(&e);
                (e, verdict)
            })
            .collect()
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "JSONPath evaluation failed");
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request failed inside the node; see its log",
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::stage_errors::stage_build_error;
    use crate::connector::{FilterConfig, MatcherConfig};
    use crate::pipeline::StageFactory;
    use crate::wasm::GuestIdentity;

    fn event(stream: &str, event_type: &str) -> RecordedEvent {
        sample(
            0,
            SampleEvent {
                stream: stream.into(),
                event_type: event_type.into(),
                data: serde_json::json!({}),
                metadata: None,
            },
        )
    }

    /// A transform of module `redact` built from a registry over `store`,
    /// answered as `/preview` answers it.
    async fn building_redact(
        store: Arc<dyn crate::store::EventStore>,
        dir: &std::path::Path,
    ) -> ApiError {
        let host = crate::wasm::WasmHost::new(crate::wasm::WasmConfig {
            cache_dir: dir.join("cache"),
            destinations: Default::default(),
        })
        .expect("host");
        let registry = crate::modules::ModuleRegistry::new(store, host, 1024 * 1024);
        let config: TransformConfig =
            serde_json::from_value(serde_json::json!({ "module": "redact" })).expect("config");
        let identity = GuestIdentity {
            connector: "preview".into(),
            stage: "transforms[0] (redact)".into(),
            secrets: Vec::new(),
            counters: Default::default(),
        };
        let Err(error) = StageFactory::transform(&registry, identity, &config).await else {
            panic!("no module `redact` was uploaded");
        };
        stage_build_error("transforms[0] (redact)", error)
    }

    #[tokio::test]
    async fn a_store_outage_is_unavailable_and_a_missing_module_invalid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.db");
        let store: Arc<dyn crate::store::EventStore> =
            Arc::new(crate::store::embedded::SqliteStore::open(&path).expect("store"));

        let missing = building_redact(Arc::clone(&store), dir.path()).await;
        assert_eq!(missing.status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(missing.code, "invalid-module");
        assert!(
            missing.message.contains("module `redact` not found"),
            "{}",
            missing.message
        );

        // The store's tables are gone from under it: reads fail as an outage.
        let damage = rusqlite::Connection::open(&path).expect("open");
        damage
            .execute_batch("DROP TABLE events; DROP TABLE streams;")
            .expect("drop");
        let outage = building_redact(store, dir.path()).await;
        assert_eq!(outage.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(outage.code, "unavailable");
    }

    #[test]
    fn the_filter_setting_that_drops_an_event_is_named() {
        let filter = FilterConfig {
            streams: Some(MatcherConfig::Prefixes(vec!["shop-".into()])),
            event_types: Some(MatcherConfig::Prefixes(vec!["Order".into()])),
            ..FilterConfig::default()
        }
        .compile()
        .expect("filter");
        let refusal =
            |stream, event_type| store_filter_refusal(&filter.store, &event(stream, event_type));
        assert_eq!(refusal("shop-1", "OrderPlaced"), None);
        assert_eq!(refusal("other-1", "OrderPlaced"), Some("filter.streams"));
        assert_eq!(refusal("shop-1", "Refunded"), Some("filter.eventTypes"));
        assert_eq!(
            refusal("shop-1", "$metadata"),
            Some("filter.includeSystemEvents")
        );
    }
}
