//! `GET` and `PUT /connectors/{id}/settings`: a connector's definition as
//! KurrentDB's settings map.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::super::error::{ApiError, ErrorBody};
use super::super::super::json::StrictJson;
use super::super::super::path::PathName;
use super::super::super::AppState;
use super::super::checks::{check_definition, load_existing, parse_id, run};
use super::super::view::ConnectorView;
use crate::connector::{settings_map, Command};

/// A connector's settings map, as KurrentDB answers it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    /// The settings, secrets shown as `******`.
    settings: settings_map::Settings,
    /// When the definition last changed.
    settings_update_time: DateTime<Utc>,
}

/// `GET /connectors/{id}/settings`.
#[utoipa::path(
    get,
    path = "/connectors/{id}/settings",
    operation_id = "getConnectorSettings",
    tag = "KurrentDB compatibility",
    params(("id" = String, Path, description = "The connector's id")),
    responses(
        (status = 200, description = "The settings map (secrets shown as `******`)", body = SettingsView),
        (status = 400, description = "An invalid id", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
        (status = 409, description = "The definition uses what a settings map cannot say (e.g. WebAssembly stages); the message lists it", body = ErrorBody),
    )
)]
pub async fn get_settings(
    State(state): State<AppState>,
    PathName(id): PathName,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let connector = load_existing(&state, &id).await?;
    let settings = settings_map::to_settings(&connector.definition.redacted()).map_err(|e| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no-settings-form",
            format!("connector `{id}` has no settings map: {e}"),
        )
    })?;
    Ok(Json(SettingsView {
        settings,
        settings_update_time: connector.defined,
    }))
}

/// `PUT /connectors/{id}/settings` with a settings map: replaces the
/// definition. Secrets sent back as `******` keep their stored value while
/// their destination is unchanged. Unlike KurrentDB, a running connector
/// may be reconfigured: it restarts with the new settings.
#[utoipa::path(
    put,
    path = "/connectors/{id}/settings",
    operation_id = "reconfigureConnectorSettings",
    tag = "KurrentDB compatibility",
    params(("id" = String, Path, description = "The connector's id")),
    request_body(
        content = settings_map::Settings,
        content_type = "application/json",
        description = "The whole settings map, e.g. `{\"instanceTypeName\": \"http-sink\", \"url\": \"https://example.com/hook\"}`"
    ),
    responses(
        (status = 200, description = "Reconfigured", body = ConnectorView),
        (status = 400, description = "An invalid id, body or setting; the message names the key", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
        (status = 422, description = "A WebAssembly stage refuses its `config`", body = ErrorBody),
    )
)]
pub async fn put_settings(
    State(state): State<AppState>,
    PathName(id): PathName,
    StrictJson(body): StrictJson<serde_json::Map<String, serde_json::Value>>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let current = load_existing(&state, &id).await?;
    let settings = settings_map::from_json("", body)?;
    let mut definition = settings_map::to_definition(&settings)?;
    definition
        .keep_secrets_from(&current.definition)
        .map_err(settings_map::name_settings_key)?;
    settings_map::validate(&definition)?;
    check_definition(&state, &id, &definition).await?;
    Ok(Json(
        run(&state, &id, Command::Reconfigure { definition }).await?,
    ))
}
