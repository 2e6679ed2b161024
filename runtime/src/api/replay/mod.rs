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
//! `target` builds what letters go through (the current filter, chain and
//! sink); `original` finds the event a letter holds.
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
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::json::{parse, read_body};
use super::path::PathName;
use super::streams::PAGE_BYTES;
use super::AppState;
use crate::connector::{ConnectorId, ReplayOutcome};
use crate::secrets::redact_in;

mod original;
mod target;

use original::original;
use target::Target;

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
