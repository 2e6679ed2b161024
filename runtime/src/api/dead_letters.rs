//! `GET /connectors/{id}/dead-letters?from=<n>&limit=<n>`: the events the
//! connector refused for good, oldest first, a page at a time.
//!
//! ```json
//! {"deadLetters": [{"revision": 0, "deadLetteredAt": "…", "stage": "sink",
//!   "reason": "…", "status": 400, "response": "…",
//!   "event": {"id": "…", "stream": "orders-1", "revision": 3, "position": 42,
//!             "type": "OrderPlaced", "created": "…", "data": {…}}}],
//!  "nextFrom": 1}
//! ```
//!
//! `from` is a revision of the dead-letter stream (default 0), `limit` at
//! most [`MAX_LIMIT`] (default [`DEFAULT_LIMIT`]); a page also stops at
//! [`PAGE_BYTES`] of letters. `nextFrom` is there while more may follow.
//! Only the current incarnation's letters are shown (see
//! [`crate::connector::DeadLetter`]), so a page may hold fewer than `limit`.
//! A letter that was replayed (`POST .../dead-letters/replay`, in
//! [`super::replay`]) shows its last replay: `"replayed": {"at": "…",
//! "outcome": "failed", "stage": "sink", "reason": "…"}`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::path::PathName;
use super::streams::PAGE_BYTES;
use super::AppState;
use crate::connector::{ConnectorId, StoredDeadLetter};

/// Letters per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 20;
/// The most letters one page holds.
pub const MAX_LIMIT: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQuery {
    /// The revision of the dead-letter stream to start at (`nextFrom`).
    from: Option<String>,
    /// How many letters, 1 to [`MAX_LIMIT`].
    limit: Option<String>,
}

/// How the query should look, for error messages.
const QUERY_EXAMPLE: &str = "e.g. `?from=0&limit=20`";

impl DeadLetterQuery {
    /// `from` and `limit`, checked.
    fn parse(&self) -> Result<(u64, usize), ApiError> {
        let from = match self.from.as_deref() {
            None => 0,
            Some(from) => from.parse().map_err(|_| {
                ApiError::bad_request(
                    "invalid-query",
                    format!(
                        "`from` must be a revision of the dead-letter stream (`0`, or the \
                         `nextFrom` of the page before), not `{from}`; {QUERY_EXAMPLE}"
                    ),
                )
            })?,
        };
        let limit = match self.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(limit) => limit.parse().unwrap_or(0),
        };
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid-query",
                format!("`limit` must be 1 to {MAX_LIMIT}; {QUERY_EXAMPLE}"),
            ));
        }
        Ok((from, limit))
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct DeadLetterAnswer {
    /// The letters: `revision`, `deadLetteredAt`, `stage`, `reason`, the
    /// sink's `status` and `response` when it answered, the `event`, and
    /// the last replay (`replayed`) when it was replayed.
    dead_letters: Vec<StoredDeadLetter>,
    /// The `from` of the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_from: Option<u64>,
}

/// `GET /connectors/{id}/dead-letters`.
#[utoipa::path(
    get,
    path = "/connectors/{id}/dead-letters",
    operation_id = "listDeadLetters",
    tag = "dead letters",
    params(
        ("id" = String, Path, description = "The connector's id"),
        ("from" = Option<u64>, Query, description = "The revision of the dead-letter stream to start at (`nextFrom` of the page before; default 0)"),
        ("limit" = Option<usize>, Query, description = "How many letters, 1 to 1000 (default 20)"),
    ),
    responses(
        (status = 200, description = "A page of dead letters, oldest first", body = DeadLetterAnswer),
        (status = 400, description = "An invalid id or query", body = super::error::ErrorBody),
        (status = 404, description = "No such connector", body = super::error::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    PathName(id): PathName,
    query: Result<Query<DeadLetterQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConnectorId::parse(&id)?;
    let Query(query) = query.map_err(|e| {
        let text = e.body_text();
        let reason = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        ApiError::bad_request("invalid-query", format!("{reason}; {QUERY_EXAMPLE}"))
    })?;
    let (from, limit) = query.parse()?;
    let connector = match state.repository.load(&id).await? {
        Some(connector) if !connector.deleted => connector,
        _ => return Err(ApiError::not_found(format!("connector `{id}` not found"))),
    };
    let page = state
        .repository
        .dead_letters(&connector, from, limit, PAGE_BYTES)
        .await?;
    Ok(Json(DeadLetterAnswer {
        dead_letters: page.letters,
        next_from: page.next_from,
    }))
}
