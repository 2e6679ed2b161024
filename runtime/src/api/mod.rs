//! The HTTP management API (axum): connectors and their dead letters,
//! the cluster's members, streams, modules, health, metrics.
//!
//! [`router`] builds the whole API over an [`AppState`] behind its access
//! checks ([`access`]: API tokens and roles, the `Host` check of loopback
//! listeners, the cross-origin check); tests call it without a socket, the
//! node serves it on `--listen` (over TLS with `--tls-cert`). Every error is
//! a JSON `{"code", "message"}` body ([`ApiError`]); JSON bodies must be
//! `application/json` and are parsed strictly ([`json::StrictJson`]). Each
//! request is logged in its own span ([`request_log`]). Every route is
//! registered with its OpenAPI description, served at `/openapi.json`
//! ([`openapi`]).

pub mod access;
mod connectors;
mod dead_letters;
mod definition_schema;
mod error;
mod json;
mod log_position;
mod members;
mod metrics;
mod modules;
pub mod openapi;
mod path;
mod preview;
mod replay;
mod request_log;
mod stage_errors;
mod streams;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use access::ApiAccess;
pub use error::ApiError;

use crate::activation::{Cluster, Supervisor};
use crate::connector::{Command, CommandError, ConnectorId, ConnectorRepository, ConnectorState};
use crate::modules::ModuleRegistry;
use crate::store::EventStore;
use crate::wasm::WasmHost;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn EventStore>,
    pub repository: ConnectorRepository,
    pub supervisor: Arc<Supervisor>,
    /// This member of the cluster: where connectors run, the members.
    pub cluster: Arc<Cluster>,
    /// Compiles and runs WebAssembly components.
    pub wasm: WasmHost,
    /// Uploaded components.
    pub modules: ModuleRegistry,
    /// What `GET /metrics` shows.
    pub metrics: crate::metrics::Metrics,
}

/// How long an answer to a command waits for this member to act on it.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl AppState {
    /// Carries out `command`: appends its outcome to the store, where the
    /// member that owns the connector (any member) picks it up. When that
    /// is this member, the answer waits (briefly) until it acted.
    pub async fn execute(
        &self,
        id: &ConnectorId,
        command: Command,
    ) -> Result<ConnectorState, CommandError> {
        let connector = self.repository.execute(id, command).await?;
        self.cluster
            .settled(id, connector.revision, SETTLE_WAIT)
            .await;
        Ok(connector)
    }
}

/// The whole API behind `access`; bodies larger than `max_body_bytes` get a
/// 413.
pub fn router(state: AppState, max_body_bytes: usize, access: ApiAccess) -> Router {
    // Uploads have their own limit: the module size limit, plus a little so
    // a module just over it gets the registry's explanation.
    let max_upload_bytes = state
        .modules
        .max_bytes()
        .saturating_add(modules::BODY_HEADROOM);
    let (routes, _document) = documented_routes(max_upload_bytes).split_for_parts();
    let routes = routes
        .merge(crate::ui::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(request_log::record_route))
        .with_state(state);
    access.layer(routes).layer(request_log::layer())
}

/// Every route of the API, each registered with its documentation (so a
/// route cannot be served without appearing in `/openapi.json`); module
/// uploads accept bodies up to `max_upload_bytes`.
fn documented_routes(max_upload_bytes: usize) -> OpenApiRouter<AppState> {
    let (schemas, paths, upload) = routes!(modules::upload);
    let upload = upload.layer(DefaultBodyLimit::max(max_upload_bytes));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(openapi::serve))
        .routes(routes!(connectors::list))
        .routes(routes!(members::list))
        .routes(routes!(metrics::scrape))
        .routes(routes!(
            connectors::get,
            connectors::create,
            connectors::reconfigure,
            connectors::delete
        ))
        .routes(routes!(connectors::enable))
        .routes(routes!(connectors::disable))
        .routes(routes!(connectors::reset))
        .routes(routes!(connectors::start))
        .routes(routes!(connectors::start_at))
        .routes(routes!(connectors::stop))
        .routes(routes!(connectors::reset_to))
        .routes(routes!(connectors::rename))
        .routes(routes!(connectors::get_settings, connectors::put_settings))
        .routes(routes!(dead_letters::list))
        .routes(routes!(replay::replay))
        .routes(routes!(preview::preview))
        .routes(routes!(streams::read, streams::append))
        .routes(routes!(modules::list))
        .routes((schemas, paths, upload))
        .routes(routes!(modules::get, modules::delete))
}

/// `GET /health`.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "node",
    security(()),
    responses((status = 200, description = "The node is up: `{\"status\": \"ok\"}`", body = Object))
)]
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: `{}`", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("`{method}` is not allowed on `{}`", uri.path()),
    )
}
