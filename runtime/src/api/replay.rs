//! `POST /connectors/{id}/dead-letters/replay`: re-delivers a connector's
//! dead letters through its current definition (filter, transforms, sink),
//! in their original order, one letter after the other, and records each
//! outcome in the dead-letter stream (see [`crate::connector::DeadLetter`]).
//!
//! ```json
//! {"from": 0, "to": 41, "again": false}
//! ```
//!
//! The body is optional: `from` and `to` are revisions of the dead-letter
//! stream, both included (default: all); a letter a replay already
//! delivered is `skipped` unless `again` is `true`. The event replayed is
//! the original, read again from its stream when it is still there (same
//! id), else rebuilt from the letter's envelope. Each letter gets one
//! attempt (an HTTP sink does not retry): `delivered`, `dropped` (by the
//! filter or a transform, with the stage) or `failed` (with the stage and
//! the reason, masked as letters are); a failed letter stays replayable.
//!
//! At most [`MAX_LETTERS`] stream events and [`PAGE_BYTES`] of letters are
//! read per request; `nextFrom` says where to go on.
//!
//! One replay of a connector runs at a time per node: while one runs, a
//! second replay of the same connector is answered at once with `409
//! replay-running` (retry when the first ends); replays of other connectors
//! go on. The replay holds its place until its request ends in any way,
//! the client going away included (see
//! [`crate::connector::ConnectorRepository::begin_replay`]). The lock is
//! this node's: two replays of one connector sent to two members of a
//! cluster are not kept apart.
//!
//! ```json
//! {"results": [{"revision": 0, "event": {"id": "…", "stream": "orders-1",
//!   "revision": 3, "position": 42, "type": "OrderPlaced"},
//!   "outcome": "delivered"}],
//!  "summary": {"delivered": 1, "dropped": 0, "failed": 0, "skipped": 0},
//!  "nextFrom": 1}
//! ```

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

use super::error::ApiError;
use super::json::{parse, read_body};
use super::path::PathName;
use super::streams::PAGE_BYTES;
use super::AppState;
use crate::connector::{
    json_path, CompiledFilter, ConnectorId, ConnectorState, ReplayOutcome, StoredDeadLetter,
    Verdict,
};
use crate::metrics::SinkMetrics;
use crate::modules::ModuleError;
use crate::pipeline::{
    build_chain, Chain, ChainBuildError, InputResult, StageBuildError, StageConfigError,
    StageFactory,
};
use crate::secrets::redact_in;
use crate::sinks::{DeliveryOutcome, Sink, SinkConfig, SinkContext};
use crate::store::{
    ContentType, Direction, EventStore, Position, RecordedEvent, StoreError, StreamStart,
};
use crate::wasm::GuestIdentity;

/// The most dead-letter stream events one request reads.
pub const MAX_LETTERS: usize = 1000;

/// Which letters to replay.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReplayRequest {
    /// The first revision of the dead-letter stream to replay (default 0).
    from: Option<u64>,
    /// The last revision to replay, included (default: the last letter).
    to: Option<u64>,
    /// Replay letters a replay already delivered too (default `false`).
    #[serde(default)]
    again: bool,
}

/// What a replay answers.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ReplayAnswer {
    results: Vec<ReplayResult>,
    summary: ReplaySummary,
    /// The `from` of the next request, when letters remain in the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_from: Option<u64>,
}

/// One letter's outcome.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ReplayResult {
    /// The letter's revision in the dead-letter stream.
    revision: u64,
    /// The original event: id, stream, revision, position and type.
    event: ReplayedEvent,
    /// `delivered`, `dropped`, `failed` or `skipped`.
    outcome: &'static str,
    /// The stage that dropped or refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<String>,
    /// Why it failed (URLs' credentials, query values and the connector's
    /// secrets masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// The replayed event, named without its data (it may be large, and the
/// listing of dead letters shows it): the identifying fields of its
/// envelope, each as the letter keeps it.
#[derive(Serialize, utoipa::ToSchema)]
struct ReplayedEvent {
    /// The event's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, format = Uuid)]
    id: Option<serde_json::Value>,
    /// The stream it was appended to.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    stream: Option<serde_json::Value>,
    /// Its revision in that stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    revision: Option<serde_json::Value>,
    /// Its commit position in the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    position: Option<serde_json::Value>,
    /// The event type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    event_type: Option<serde_json::Value>,
}

/// How many letters ended each way.
#[derive(Serialize, Default, utoipa::ToSchema)]
struct ReplaySummary {
    /// The sink accepted them.
    delivered: usize,
    /// The current filter or a transform dropped them.
    dropped: usize,
    /// A stage or the sink refused them again; they stay replayable.
    failed: usize,
    /// A replay had already delivered them (see `again`).
    skipped: usize,
}

/// `POST /connectors/{id}/dead-letters/replay`.
#[utoipa::path(
    post,
    path = "/connectors/{id}/dead-letters/replay",
    operation_id = "replayDeadLetters",
    tag = "dead letters",
    params(("id" = String, Path, description = "The connector's id")),
    request_body(content = Option<ReplayRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "Each letter's outcome, in order", body = ReplayAnswer),
        (status = 400, description = "An invalid id or body, or a sink or stage that cannot be built", body = super::error::ErrorBody),
        (status = 404, description = "No such connector", body = super::error::ErrorBody),
        (status = 409, description = "`replay-running`: a replay of this connector is still running on this node (one at a time per node; replays sent to other members are not kept out); retry when it ends", body = super::error::ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "A WebAssembly stage refuses its `config`", body = super::error::ErrorBody),
        (status = 503, description = "The store cannot be read or written", body = super::error::ErrorBody),
    )
)]
pub async fn replay(
    State(state): State<AppState>,
    PathName(id): PathName,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConnectorId::parse(&id)?;
    let body = read_body(request, &state).await?;
    let request: ReplayRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReplayRequest::default()
    } else {
        parse(&body)?
    };
    let connector = match state.repository.load(&id).await? {
        Some(connector) if !connector.deleted => connector,
        _ => return Err(ApiError::not_found(format!("connector `{id}` not found"))),
    };
    let from = request.from.unwrap_or(0);
    let to = request.to.unwrap_or(u64::MAX);
    if from > to {
        return Err(ApiError::bad_request(
            "invalid-body",
            format!("`from` ({from}) must not be after `to` ({to})"),
        ));
    }
    // Held until the answer is made, or the request is dropped.
    let _running = state
        .repository
        .begin_replay(&connector.id)
        .map_err(|running| {
            ApiError::new(StatusCode::CONFLICT, "replay-running", running.to_string())
        })?;
    let mut target = Target::build(&state, &connector).await?;
    let page = state
        .repository
        .dead_letters(&connector, from, MAX_LETTERS, PAGE_BYTES)
        .await?;
    let secrets = connector.definition.secret_values();
    let mut summary = ReplaySummary::default();
    let mut results = Vec::new();
    for letter in page.letters.iter().filter(|l| l.revision <= to) {
        let shown = summary_of(&letter.event);
        let already = letter.replayed.as_ref().is_some_and(|r| r.delivered());
        if already && !request.again {
            summary.skipped += 1;
            results.push(ReplayResult {
                revision: letter.revision,
                event: shown,
                outcome: "skipped",
                stage: None,
                reason: None,
            });
            continue;
        }
        let event = original(state.store.as_ref(), letter).await?;
        let outcome = target.replay(event).await;
        let outcome = match outcome {
            ReplayOutcome::Failed { stage, reason } => ReplayOutcome::Failed {
                stage,
                reason: redact_in(&reason, &secrets),
            },
            other => other,
        };
        state
            .repository
            .record_replay(&connector, letter.revision, &outcome)
            .await?;
        let (stage, reason) = match &outcome {
            ReplayOutcome::Delivered => {
                summary.delivered += 1;
                (None, None)
            }
            ReplayOutcome::Dropped { stage } => {
                summary.dropped += 1;
                (Some(stage.clone()), None)
            }
            ReplayOutcome::Failed { stage, reason } => {
                summary.failed += 1;
                (Some(stage.clone()), Some(reason.clone()))
            }
        };
        results.push(ReplayResult {
            revision: letter.revision,
            event: shown,
            outcome: outcome.name(),
            stage,
            reason,
        });
    }
    let next_from = page.next_from.filter(|next| *next <= to);
    Ok(Json(ReplayAnswer {
        results,
        summary,
        next_from,
    }))
}

/// What a letter is replayed through: the connector's current filter,
/// transform chain and sink.
struct Target {
    filter: CompiledFilter,
    chain: Chain,
    sink: Box<dyn Sink>,
}

impl Target {
    /// Builds the current definition's parts; what cannot be built is
    /// answered as creating the connector answers it.
    async fn build(state: &AppState, connector: &ConnectorState) -> Result<Self, ApiError> {
        let definition = &connector.definition;
        let filter = definition.filter.compile()?;
        let owner = connector.id.as_str();
        let chain = build_chain(&state.modules, owner, &definition.transforms)
            .await
            .map_err(|e| match e {
                ChainBuildError::Build { stage, error, .. } => stage_build_error(&stage, error),
                ChainBuildError::Init { index, error, .. } => {
                    let refused = StageConfigError::from_init(
                        &format!("transforms[{index}]"),
                        &definition.transforms[index].module,
                        error,
                    );
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid-config",
                        refused.to_string(),
                    )
                }
            })?;
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
                stage.init().await.map_err(|error| {
                    let refused = StageConfigError::from_init("sink", &config.module, error);
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid-config",
                        refused.to_string(),
                    )
                })?;
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
    async fn replay(&mut self, event: RecordedEvent) -> ReplayOutcome {
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

/// The answer when stage `name` cannot be built: a store outage is the
/// node's trouble (`503 unavailable`), anything else the module's (`400
/// invalid-module`).
fn stage_build_error(name: &str, error: StageBuildError) -> ApiError {
    match error {
        StageBuildError::Module(ModuleError::Store(outage @ StoreError::Unavailable(_))) => {
            outage.into()
        }
        other => ApiError::bad_request("invalid-module", format!("{name}: {other}")),
    }
}

/// The envelope's identifying part, for the answer (no data: it may be
/// large, and the listing shows it).
fn summary_of(envelope: &serde_json::Value) -> ReplayedEvent {
    let field = |key: &str| envelope.get(key).cloned();
    ReplayedEvent {
        id: field("id"),
        stream: field("stream"),
        revision: field("revision"),
        position: field("position"),
        event_type: field("type"),
    }
}

/// The letter's original event: read again from its stream when it is
/// still there with the same id, else rebuilt from the stored envelope.
async fn original(
    store: &dyn EventStore,
    letter: &StoredDeadLetter,
) -> Result<RecordedEvent, ApiError> {
    let rebuilt = rebuild(&letter.event);
    let read = store
        .read_stream(
            &rebuilt.stream,
            Direction::Forwards,
            StreamStart::Revision(rebuilt.revision),
            1,
        )
        .await;
    match read {
        Ok(mut events) => match events.pop() {
            Some(event) if event.id == rebuilt.id && event.revision == rebuilt.revision => {
                Ok(event)
            }
            _ => Ok(rebuilt),
        },
        Err(StoreError::StreamNotFound(_)) => Ok(rebuilt),
        Err(StoreError::Unavailable(why)) => Err(StoreError::Unavailable(why).into()),
        // A stream name the store refuses, say: the envelope is all there is.
        Err(_) => Ok(rebuilt),
    }
}

/// The event an envelope describes (see [`crate::sinks::envelope`]).
fn rebuild(envelope: &serde_json::Value) -> RecordedEvent {
    let text = |key: &str| envelope.get(key).and_then(|v| v.as_str());
    let number = |key: &str| envelope.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
    let bytes = |json: &str, base64: &str| match envelope.get(json) {
        Some(value) => serde_json::to_vec(value).unwrap_or_default(),
        None => text(base64)
            .and_then(|b| STANDARD.decode(b).ok())
            .unwrap_or_default(),
    };
    let position = number("position");
    RecordedEvent {
        id: text("id")
            .and_then(|id| Uuid::parse_str(id).ok())
            .unwrap_or_else(Uuid::new_v4),
        stream: text("stream").unwrap_or_default().to_owned(),
        revision: number("revision"),
        position: Position::new(position, position),
        event_type: text("type").unwrap_or_default().to_owned(),
        content_type: match text("contentType") {
            Some("application/json") => ContentType::Json,
            _ => ContentType::Binary,
        },
        created: text("created")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(Utc::now),
        data: bytes("data", "dataBase64").into(),
        metadata: bytes("metadata", "metadataBase64").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::envelope::envelope;

    fn event(data: &[u8], content_type: ContentType, metadata: &[u8]) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::new_v4(),
            stream: "orders-1".into(),
            revision: 7,
            position: Position::new(42, 42),
            event_type: "OrderPlaced".into(),
            content_type,
            created: DateTime::parse_from_rfc3339("2024-05-01T12:00:00.123Z")
                .expect("time")
                .with_timezone(&Utc),
            data: data.to_vec().into(),
            metadata: metadata.to_vec().into(),
        }
    }

    #[test]
    fn an_envelope_rebuilds_its_event() {
        for original in [
            event(br#"{"n":1}"#, ContentType::Json, br#"{"user":"ann"}"#),
            event(&[0, 159, 146, 150], ContentType::Binary, &[1, 2]),
            event(b"", ContentType::Binary, b""),
        ] {
            let rebuilt = rebuild(&envelope(&original));
            assert_eq!(rebuilt.id, original.id);
            assert_eq!(rebuilt.stream, original.stream);
            assert_eq!(rebuilt.revision, original.revision);
            assert_eq!(rebuilt.position.commit, original.position.commit);
            assert_eq!(rebuilt.event_type, original.event_type);
            assert_eq!(rebuilt.content_type, original.content_type);
            assert_eq!(rebuilt.created, original.created);
            assert_eq!(rebuilt.data, original.data);
            assert_eq!(rebuilt.metadata, original.metadata);
        }
    }

    #[tokio::test]
    async fn the_original_is_read_again_while_its_stream_still_has_it() {
        use crate::store::embedded::SqliteStore;
        use crate::store::{ExpectedRevision, NewEvent};

        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("events.db")).expect("store");
        store
            .append(
                "orders-1",
                ExpectedRevision::Any,
                vec![NewEvent::json(
                    "OrderPlaced",
                    &serde_json::json!({ "n": 1 }),
                )],
            )
            .await
            .expect("append");
        let stored = store
            .read_stream("orders-1", Direction::Forwards, StreamStart::Revision(0), 1)
            .await
            .expect("read")
            .remove(0);
        let letter = |event: serde_json::Value| StoredDeadLetter {
            revision: 0,
            dead_lettered_at: String::new(),
            stage: "sink".into(),
            reason: String::new(),
            status: None,
            response: None,
            event,
            replayed: None,
        };
        let same = original(&store, &letter(envelope(&stored)))
            .await
            .expect("original");
        assert_eq!(same, stored);

        // Another event now sits where the letter's was: the letter's own
        // copy is replayed.
        let mut gone = stored.clone();
        gone.id = Uuid::new_v4();
        gone.data = br#"{"n":2}"#.to_vec().into();
        let rebuilt = original(&store, &letter(envelope(&gone)))
            .await
            .expect("original");
        assert_eq!((rebuilt.id, &rebuilt.data), (gone.id, &gone.data));

        // A stream that is not there at all.
        gone.stream = "missing-1".into();
        let rebuilt = original(&store, &letter(envelope(&gone)))
            .await
            .expect("original");
        assert_eq!(rebuilt.stream, "missing-1");
    }

    #[test]
    fn the_answer_names_the_event_without_its_data() {
        let original = event(b"{}", ContentType::Json, b"");
        let shown = serde_json::to_value(summary_of(&envelope(&original))).expect("JSON");
        assert_eq!(
            shown,
            serde_json::json!({
                "id": original.id.to_string(),
                "stream": "orders-1",
                "revision": 7,
                "position": 42,
                "type": "OrderPlaced",
            })
        );
        let partial =
            serde_json::to_value(summary_of(&serde_json::json!({ "stream": "s" }))).expect("JSON");
        assert_eq!(partial, serde_json::json!({ "stream": "s" }));
    }
}
