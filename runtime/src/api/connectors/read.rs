//! `GET /connectors` and `GET /connectors/{id}`.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::super::error::{ApiError, ErrorBody};
use super::super::path::PathName;
use super::super::AppState;
use super::checks::parse_id;
use super::view::{unreadable_view, view, Listed};
use crate::connector::CommandError;

/// `GET /connectors`: every connector with its status; with any of
/// KurrentDB's query parameters, KurrentDB's filtered, paged listing
/// ([`super::kurrent`]).
#[utoipa::path(
    get,
    path = "/connectors",
    operation_id = "listConnectors",
    tag = "connectors",
    params(
        ("state" = Option<Vec<String>>, Query, description = "KurrentDB's listing: keep connectors in these states (`CONNECTOR_STATE_RUNNING`, `_ACTIVATING`, `_DEACTIVATING`, `_STOPPED`, `_UNKNOWN`; repeatable)"),
        ("instanceTypeName" = Option<Vec<String>>, Query, description = "KurrentDB's listing: keep connectors with these sinks (`http-sink`, `serilog-sink`, `wasm-sink`; repeatable)"),
        ("connectorId" = Option<Vec<String>>, Query, description = "KurrentDB's listing: keep these connectors (repeatable)"),
        ("includeSettings" = Option<bool>, Query, description = "KurrentDB's listing: show each connector's settings map"),
        ("page" = Option<usize>, Query, description = "KurrentDB's listing: the page, from 1"),
        ("pageSize" = Option<usize>, Query, description = "KurrentDB's listing: connectors per page (default 100, at most 1000)"),
    ),
    responses(
        (status = 200, description = "Without a query: every connector with its status (an array). With any of KurrentDB's parameters: a `KurrentListing` (`{\"items\", \"totalCount\", \"paging\"}`) as KurrentDB answers", body = Vec<Listed>),
        (status = 400, description = "An unknown parameter or an invalid value", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        return Ok(Json(super::kurrent::listing(&state, &query).await?).into_response());
    }
    let listing = state.repository.list().await?;
    let mut views = Vec::new();
    for connector in listing.connectors {
        views.push(Listed::Readable(Box::new(view(&state, connector).await)));
    }
    for unreadable in listing.unreadable {
        views.push(unreadable_view(unreadable.id, unreadable.reason));
    }
    Ok(Json(views).into_response())
}

/// `GET /connectors/{id}`.
#[utoipa::path(
    get,
    path = "/connectors/{id}",
    operation_id = "getConnector",
    tag = "connectors",
    params(("id" = String, Path, description = "The connector's id, e.g. `orders-to-webhook`")),
    responses(
        (status = 200, description = "The connector with its status (faulted, with the reason, when its stored events cannot be read)", body = Listed),
        (status = 400, description = "An invalid id, body or setting", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    PathName(id): PathName,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    match state.repository.load(&id).await {
        Ok(Some(connector)) if !connector.deleted => Ok(Json(Listed::Readable(Box::new(
            view(&state, connector).await,
        )))),
        Ok(_) => Err(ApiError::not_found(format!("connector `{id}` not found"))),
        Err(e @ CommandError::Corrupt { .. }) => Ok(Json(unreadable_view(id, e.to_string()))),
        Err(e) => Err(e.into()),
    }
}
