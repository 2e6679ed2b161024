//! Enable, disable, reset and delete a connector.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::super::error::{ApiError, ErrorBody};
use super::super::json::{parse, read_body};
use super::super::log_position;
use super::super::path::PathName;
use super::super::AppState;
use super::checks::{load_existing, parse_id, run};
use super::view::ConnectorView;
use crate::connector::{Command, StartFrom};

/// `POST /connectors/{id}/enable`.
#[utoipa::path(
    post,
    path = "/connectors/{id}/enable",
    operation_id = "enableConnector",
    tag = "connectors",
    params(("id" = String, Path, description = "The connector's id, e.g. `orders-to-webhook`")),
    responses(
        (status = 200, description = "Enabled: its pipeline starts", body = ConnectorView),
        (status = 400, description = "An invalid id, body or setting", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
    )
)]
pub async fn enable(
    State(state): State<AppState>,
    PathName(id): PathName,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(run(&state, &id, Command::Enable).await?))
}

/// `POST /connectors/{id}/disable`.
#[utoipa::path(
    post,
    path = "/connectors/{id}/disable",
    operation_id = "disableConnector",
    tag = "connectors",
    params(("id" = String, Path, description = "The connector's id, e.g. `orders-to-webhook`")),
    responses(
        (status = 200, description = "Disabled: its pipeline stops, checkpointing what it delivered", body = ConnectorView),
        (status = 400, description = "An invalid id, body or setting", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
    )
)]
pub async fn disable(
    State(state): State<AppState>,
    PathName(id): PathName,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(run(&state, &id, Command::Disable).await?))
}

/// The body of a reset: where the new round starts.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    /// `"start"`, `"end"` or a log position to resume after; required, so
    /// an empty request never replays the whole log by accident.
    #[schema(value_type = Object, example = json!("end"))]
    to: Option<StartFrom>,
}

/// `POST /connectors/{id}/reset` with `{"to": ...}`: `"start"`, `"end"` or
/// the position of an event to resume after (at most the log's head).
#[utoipa::path(
    post,
    path = "/connectors/{id}/reset",
    operation_id = "resetConnector",
    tag = "connectors",
    params(("id" = String, Path, description = "The connector's id, e.g. `orders-to-webhook`")),
    request_body(content = ResetRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Reset: a new round starts where `to` says", body = ConnectorView),
        (status = 400, description = "An invalid id, body or setting", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
        (status = 422, description = "`to` is missing", body = ErrorBody),
    )
)]
pub async fn reset(
    State(state): State<AppState>,
    PathName(id): PathName,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let body = read_body(request, &state).await?;
    let to = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        parse::<ResetRequest>(&body)?.to
    };
    load_existing(&state, &id).await?;
    let Some(to) = to else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reset-target-required",
            format!("a reset needs `to`; {}", log_position::RESET_TARGETS),
        ));
    };
    log_position::check(&state, "to", to).await?;
    Ok(Json(run(&state, &id, Command::Reset { to }).await?))
}

/// `DELETE /connectors/{id}`: stops the connector and forgets it, its
/// checkpoints and dead letters.
#[utoipa::path(
    delete,
    path = "/connectors/{id}",
    operation_id = "deleteConnector",
    tag = "connectors",
    params(("id" = String, Path, description = "The connector's id, e.g. `orders-to-webhook`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "An invalid id, body or setting", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    PathName(id): PathName,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    state.execute(&id, Command::Delete).await?;
    // The member that ran it deletes them too, once it stopped.
    if let Err(e) = state.repository.forget_streams(&id).await {
        tracing::warn!(connector = %id, error = %e, "could not delete the checkpoints and dead letters of a deleted connector");
    }
    Ok(StatusCode::NO_CONTENT)
}
