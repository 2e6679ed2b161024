//! KurrentDB's verbs: `start` (enable), `start/{position}` (reset and
//! enable at once), `stop` (disable), `reset/{position}` and `rename`.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::super::super::error::{ApiError, ErrorBody};
use super::super::super::json::StrictJson;
use super::super::super::log_position;
use super::super::super::path::{PathName, PathPair};
use super::super::super::AppState;
use super::super::checks::{check_name, parse_id, run};
use super::super::view::ConnectorView;
use crate::connector::{Command, StartFrom};
use crate::store::Position;

/// `POST /connectors/{id}/start`: KurrentDB's start, which is an enable.
#[utoipa::path(
    post,
    path = "/connectors/{id}/start",
    operation_id = "startConnector",
    tag = "KurrentDB compatibility",
    params(("id" = String, Path, description = "The connector's id")),
    responses(
        (status = 200, description = "Started (as `enable`): it resumes from its checkpoint, or where its definition starts", body = ConnectorView),
        (status = 400, description = "An invalid id", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    PathName(id): PathName,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(run(&state, &id, Command::Enable).await?))
}

/// `POST /connectors/{id}/start/{position}`: runs the connector from the
/// events after `position` (`0`: the start of the log).
#[utoipa::path(
    post,
    path = "/connectors/{id}/start/{position}",
    operation_id = "startConnectorAt",
    tag = "KurrentDB compatibility",
    params(
        ("id" = String, Path, description = "The connector's id"),
        ("position" = u64, Path, description = "A log position: it delivers the events after it (`0`: every event)"),
    ),
    responses(
        (status = 200, description = "Reset to the position and started, in one step", body = ConnectorView),
        (status = 400, description = "An invalid id or position", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
        (status = 422, description = "The position is past the end of the log", body = ErrorBody),
    )
)]
pub async fn start_at(
    State(state): State<AppState>,
    PathPair(id, position): PathPair,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let to = position_target(&state, &position, "start").await?;
    Ok(Json(run(&state, &id, Command::StartFrom { to }).await?))
}

/// `POST /connectors/{id}/stop`: KurrentDB's stop, which is a disable.
#[utoipa::path(
    post,
    path = "/connectors/{id}/stop",
    operation_id = "stopConnector",
    tag = "KurrentDB compatibility",
    params(("id" = String, Path, description = "The connector's id")),
    responses(
        (status = 200, description = "Stopped (as `disable`): it checkpoints what it delivered", body = ConnectorView),
        (status = 400, description = "An invalid id", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
    )
)]
pub async fn stop(
    State(state): State<AppState>,
    PathName(id): PathName,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(run(&state, &id, Command::Disable).await?))
}

/// `POST /connectors/{id}/reset/{position}`: a new round from the events
/// after `position` (`0`: the start of the log).
#[utoipa::path(
    post,
    path = "/connectors/{id}/reset/{position}",
    operation_id = "resetConnectorTo",
    tag = "KurrentDB compatibility",
    params(
        ("id" = String, Path, description = "The connector's id"),
        ("position" = u64, Path, description = "A log position: the new round delivers the events after it (`0`: every event)"),
    ),
    responses(
        (status = 200, description = "Reset; a running connector goes on from there", body = ConnectorView),
        (status = 400, description = "An invalid id or position", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
        (status = 422, description = "The position is past the end of the log", body = ErrorBody),
    )
)]
pub async fn reset_to(
    State(state): State<AppState>,
    PathPair(id, position): PathPair,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let to = position_target(&state, &position, "reset").await?;
    Ok(Json(run(&state, &id, Command::Reset { to }).await?))
}

/// The body of a rename.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    /// The new name for people.
    #[schema(example = "Orders to billing")]
    name: String,
}

/// `PUT /connectors/{id}/rename` with `{"name": ...}`: its pipeline goes on
/// undisturbed.
#[utoipa::path(
    put,
    path = "/connectors/{id}/rename",
    operation_id = "renameConnector",
    tag = "KurrentDB compatibility",
    params(("id" = String, Path, description = "The connector's id")),
    request_body(content = RenameRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Renamed", body = ConnectorView),
        (status = 400, description = "An invalid id, body or name", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
    )
)]
pub async fn rename(
    State(state): State<AppState>,
    PathName(id): PathName,
    StrictJson(request): StrictJson<RenameRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let name = check_name(&request.name)?;
    Ok(Json(run(&state, &id, Command::Rename { name }).await?))
}

/// Reads a `{position}` of the path: `0` is the start of the log, any
/// other the position of an event, checked against the log.
async fn position_target(
    state: &AppState,
    position: &str,
    verb: &str,
) -> Result<StartFrom, ApiError> {
    let Ok(commit) = position.parse::<u64>() else {
        return Err(ApiError::bad_request(
            "invalid-position",
            format!(
                "`{position}` is not a log position; give a whole number, e.g. \
                 `/connectors/{{id}}/{verb}/1234` (the events after position 1234) or \
                 `/connectors/{{id}}/{verb}/0` (every event)"
            ),
        ));
    };
    let to = match commit {
        0 => StartFrom::Start,
        commit => StartFrom::After(Position::new(commit, commit)),
    };
    log_position::check(state, "position", to).await?;
    Ok(to)
}
