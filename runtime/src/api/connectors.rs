//! `/connectors`: create, list, inspect, reconfigure, enable, disable, reset
//! and delete connectors.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::definition_schema::{ConnectorDefinitionSchema, CreateConnectorSchema};
use super::error::{ApiError, ErrorBody};
use super::json::{parse, read_body, StrictJson};
use super::log_position;
use super::path::PathName;
use super::AppState;
use crate::activation::Whereabouts;
use crate::connector::{
    Command, CommandError, ConnectorDefinition, ConnectorId, ConnectorState, StartFrom,
};
use crate::modules::ModuleRef;
use crate::pipeline::{
    check_stage_configs, mark_outdated, PipelineStatus, RunState, StatusSnapshot,
};
use crate::sinks::SinkConfig;
use crate::wasm::World;

/// A connector as the API shows it: its definition (secrets redacted) and
/// its live status.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorView {
    #[schema(value_type = String)]
    id: ConnectorId,
    enabled: bool,
    /// The definition as created (see `POST /connectors/{id}`), secrets
    /// replaced by a marker.
    #[schema(value_type = ConnectorDefinitionSchema)]
    definition: ConnectorDefinition,
    /// Grows with every reset.
    round: u64,
    /// The revision of `$connectors/{id}`; it changes with every command.
    revision: u64,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    status: StatusView,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct StatusView {
    /// The pipeline's state (`starting`, `running`, `faulted`, ...), its
    /// position, counts, last error and stages.
    #[serde(flatten)]
    live: StatusSnapshot,
    /// How far the log's head is past `position` (log positions), now.
    lag: Option<u64>,
    /// Which member runs the connector.
    member: Option<String>,
    /// Why an enabled connector runs nowhere (`unassigned`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// How old the status is, when it is what the member running the
    /// connector last published (its heartbeats carry it).
    #[serde(skip_serializing_if = "Option::is_none")]
    age_ms: Option<u64>,
}

/// The connector's status: live when it runs here, as last published by
/// the member that runs it, or from its checkpoints.
async fn status_of(
    state: &AppState,
    connector: &ConnectorState,
) -> (StatusSnapshot, Option<String>, Option<String>, Option<u64>) {
    match state.cluster.whereabouts(connector) {
        Whereabouts::Here => {
            let live = state.supervisor.status(connector).await;
            (live, Some(state.cluster.member().to_owned()), None, None)
        }
        Whereabouts::Elsewhere {
            member,
            status: Some((published, age)),
        } => (published, Some(member), None, Some(age.as_millis() as u64)),
        Whereabouts::Elsewhere {
            member,
            status: None,
        } => {
            let mut stored = state.supervisor.stored_status(connector).await;
            stored.state = RunState::Starting;
            (stored, Some(member), None, None)
        }
        Whereabouts::Unassigned { reason } => {
            let mut stored = state.supervisor.stored_status(connector).await;
            stored.state = RunState::Unassigned;
            (stored, None, Some(reason), None)
        }
        Whereabouts::Idle => {
            let live = state.supervisor.status(connector).await;
            (live, None, None, None)
        }
    }
}

async fn view(state: &AppState, connector: ConnectorState) -> ConnectorView {
    let (mut live, member, reason, age_ms) = status_of(state, &connector).await;
    mark_outdated(&state.modules, &mut live.stages).await;
    let lag = match state.store.head_position().await {
        Ok(head) => live.measure(head.map(|h| h.commit), connector.enabled),
        Err(_) => None,
    };
    ConnectorView {
        id: connector.id,
        enabled: connector.enabled,
        definition: connector.definition.redacted(),
        round: connector.round,
        revision: connector.revision,
        created: connector.created,
        updated: connector.updated,
        status: StatusView {
            live,
            lag,
            member,
            reason,
            age_ms,
        },
    }
}

/// Every module the definition names exists and fits where it is used, so a
/// typo is a 400 now rather than a faulted connector later.
async fn check_modules(state: &AppState, definition: &ConnectorDefinition) -> Result<(), ApiError> {
    let mut uses: Vec<(String, &ModuleRef, World)> = definition
        .transforms
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                format!("transforms[{i}].module"),
                &t.module,
                World::Transform,
            )
        })
        .collect();
    if let SinkConfig::Wasm(sink) = &definition.sink {
        uses.push(("sink.module".into(), &sink.module, World::Sink));
    }
    for (field, module, world) in uses {
        let version = state.modules.resolve(module).await.map_err(|e| {
            ApiError::bad_request(
                "invalid-setting",
                format!(
                    "`{field}`: {e}; upload it first with `PUT /modules/{}`",
                    module.name()
                ),
            )
        })?;
        if !version.has_world(world) {
            let fits: Vec<String> = version
                .worlds
                .iter()
                .map(|w| where_it_fits(*w, module.name()))
                .collect();
            return Err(ApiError::bad_request(
                "invalid-setting",
                format!(
                    "`{field}`: module `{module}` is not a {} component; it is {}",
                    match world {
                        World::Transform => "filter/transform",
                        World::Sink => "custom sink",
                    },
                    fits.join(" and ")
                ),
            ));
        }
    }
    Ok(())
}

/// Where a component of `world` goes in a definition, in the fields users
/// write.
fn where_it_fits(world: World, name: &str) -> String {
    match world {
        World::Transform => format!("a filter/transform component: use it in `transforms`, e.g. `\"transforms\": [{{\"module\": \"{name}\"}}]`"),
        World::Sink => format!("a custom sink component: use it as the sink, e.g. `\"sink\": {{\"type\": \"wasm\", \"module\": \"{name}\"}}`"),
    }
}

/// Every WebAssembly stage's `init` accepts its config: a typo is a 422
/// naming the stage's `config` now rather than a fault at the first event.
async fn check_configs(
    state: &AppState,
    id: &ConnectorId,
    definition: &ConnectorDefinition,
) -> Result<(), ApiError> {
    check_stage_configs(&state.modules, id.as_str(), definition)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-config",
                e.to_string(),
            )
        })
}

fn parse_id(id: &str) -> Result<ConnectorId, ApiError> {
    Ok(ConnectorId::parse(id)?)
}

async fn run(
    state: &AppState,
    id: &ConnectorId,
    command: Command,
) -> Result<ConnectorView, ApiError> {
    let connector = state.execute(id, command).await?;
    Ok(view(state, connector).await)
}

/// A connector as listed or inspected: readable, or one whose stored events
/// cannot be read, shown by its id as faulted with the reason.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Listed {
    Readable(Box<ConnectorView>),
    Unreadable {
        #[schema(value_type = String)]
        id: ConnectorId,
        status: Box<StatusView>,
    },
}

/// `GET /connectors`: every connector with its status.
#[utoipa::path(
    get,
    path = "/connectors",
    operation_id = "listConnectors",
    tag = "connectors",
    responses((status = 200, description = "Every connector, with its status", body = Vec<Listed>))
)]
pub async fn list(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let listing = state.repository.list().await?;
    let mut views = Vec::new();
    for connector in listing.connectors {
        views.push(Listed::Readable(Box::new(view(&state, connector).await)));
    }
    for unreadable in listing.unreadable {
        views.push(unreadable_view(unreadable.id, unreadable.reason));
    }
    Ok(Json(views))
}

/// A connector whose stored events cannot be read: faulted, with `reason`.
fn unreadable_view(id: ConnectorId, reason: String) -> Listed {
    let status = PipelineStatus::new(RunState::Faulted);
    status.fault(reason);
    Listed::Unreadable {
        id,
        status: Box::new(StatusView {
            live: status.snapshot(),
            lag: None,
            member: None,
            reason: None,
            age_ms: None,
        }),
    }
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

/// Refuses a sink whose destination is an IP literal the node's policy
/// refuses (names are checked when they are resolved).
fn check_destinations(state: &AppState, definition: &ConnectorDefinition) -> Result<(), ApiError> {
    definition
        .sink
        .check_destinations(state.wasm.destinations())
        .map_err(|e| ApiError::bad_request("destination-refused", e.to_string()))
}

const CREATE_FIELDS: &str =
    "`sink`, `filter`, `transforms`, `start`, `checkpoint`, `onFailure`, `affinity`, `enable`";

/// `POST /connectors/{id}`: the definition plus `enable` (default `true`).
#[utoipa::path(
    post,
    path = "/connectors/{id}",
    operation_id = "createConnector",
    tag = "connectors",
    params(("id" = String, Path, description = "The connector's id, e.g. `orders-to-webhook`")),
    request_body(
        content = CreateConnectorSchema,
        content_type = "application/json",
        description = "The definition, and `enable` (default `true`)",
        example = json!({"sink": {"type": "http", "url": "https://example.com/hook"}, "filter": {"streams": {"prefixes": ["orders-"]}}})
    ),
    responses(
        (status = 201, description = "Created", body = ConnectorView),
        (status = 400, description = "An invalid id, body or setting", body = ErrorBody),
        (status = 409, description = "A connector with this id exists", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "A WebAssembly stage refuses its `config`", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    PathName(id): PathName,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let body = read_body(request, &state).await?;
    let mut object: serde_json::Map<String, serde_json::Value> = parse(&body)?;
    let enable = match object.remove("enable") {
        None => true,
        Some(serde_json::Value::Bool(b)) => b,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid-body",
                format!("at `enable`: expected `true` or `false`, got `{other}`"),
            ))
        }
    };
    let definition: ConnectorDefinition = parse(&serde_json::to_vec(&object).unwrap_or_default())
        .map_err(|mut e| {
        // The definition's own field list lacks `enable`; only an unknown
        // field at the top (`at `sinc`: unknown field ...`) lists it.
        let top_level = e
            .message
            .strip_prefix("at `")
            .and_then(|rest| rest.split_once("`: unknown field"))
            .is_some_and(|(path, _)| !path.contains(['.', '[']));
        if let (true, Some(i)) = (top_level, e.message.find("expected one of")) {
            e.message = format!("{}expected one of {CREATE_FIELDS}", &e.message[..i]);
        }
        e
    })?;
    definition.validate()?;
    log_position::check(&state, "start", definition.start).await?;
    check_destinations(&state, &definition)?;
    check_modules(&state, &definition).await?;
    check_configs(&state, &id, &definition).await?;
    let view = run(&state, &id, Command::Create { definition, enable }).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `PUT /connectors/{id}`: replaces the definition. Secrets sent back as the
/// redaction marker keep their stored value while their destination is
/// unchanged.
#[utoipa::path(
    put,
    path = "/connectors/{id}",
    operation_id = "reconfigureConnector",
    tag = "connectors",
    params(("id" = String, Path, description = "The connector's id, e.g. `orders-to-webhook`")),
    request_body(
        content = ConnectorDefinitionSchema,
        content_type = "application/json",
        description = "The new definition (the fields of a create, without `enable`); secrets sent back as `******` keep their value while their destination is unchanged"
    ),
    responses(
        (status = 200, description = "Reconfigured", body = ConnectorView),
        (status = 400, description = "An invalid id, body or setting", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "A WebAssembly stage refuses its `config`", body = ErrorBody),
    )
)]
pub async fn reconfigure(
    State(state): State<AppState>,
    PathName(id): PathName,
    StrictJson(mut definition): StrictJson<ConnectorDefinition>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let current = state
        .repository
        .load(&id)
        .await?
        .filter(|c| !c.deleted)
        .ok_or_else(|| ApiError::not_found(format!("connector `{id}` not found")))?;
    definition.keep_secrets_from(&current.definition)?;
    definition.validate()?;
    check_destinations(&state, &definition)?;
    check_modules(&state, &definition).await?;
    check_configs(&state, &id, &definition).await?;
    Ok(Json(
        run(&state, &id, Command::Reconfigure { definition }).await?,
    ))
}

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
    let exists = state
        .repository
        .load(&id)
        .await?
        .is_some_and(|c| !c.deleted);
    if !exists {
        return Err(ApiError::not_found(format!("connector `{id}` not found")));
    }
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
