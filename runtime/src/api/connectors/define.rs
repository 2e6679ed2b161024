//! `POST /connectors/{id}` (create) and `PUT /connectors/{id}` (reconfigure).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use super::super::definition_schema::{ConnectorDefinitionSchema, CreateConnectorSchema};
use super::super::error::{ApiError, ErrorBody};
use super::super::json::{parse, read_body, StrictJson};
use super::super::log_position;
use super::super::path::PathName;
use super::super::AppState;
use super::checks::{check_definition, load_existing, parse_id, run, take_name};
use super::view::ConnectorView;
use crate::connector::{Command, ConnectorDefinition};

const CREATE_FIELDS: &str = "`sink`, `filter`, `transforms`, `start`, `checkpoint`, `onFailure`, \
     `affinity`, `ordering`, `enable`, `name` (or KurrentDB's `settings`)";

/// `POST /connectors/{id}`: the definition plus `enable` (default `true`)
/// and `name`, or KurrentDB's `{"name", "settings"}` ([`super::kurrent`]).
#[utoipa::path(
    post,
    path = "/connectors/{id}",
    operation_id = "createConnector",
    tag = "connectors",
    params(("id" = String, Path, description = "The connector's id, e.g. `orders-to-webhook`")),
    request_body(
        content = CreateConnectorSchema,
        content_type = "application/json",
        description = "The definition with `enable` (default `true`) and `name`, or KurrentDB's `{\"name\", \"settings\"}` (created stopped)",
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
    if object.contains_key("settings") {
        return super::kurrent::create(&state, id, object).await;
    }
    let name = take_name(&mut object)?;
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
    check_definition(&state, &id, &definition).await?;
    let view = run(
        &state,
        &id,
        Command::Create {
            definition,
            enable,
            name,
        },
    )
    .await?;
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
    let current = load_existing(&state, &id).await?;
    definition.keep_secrets_from(&current.definition)?;
    definition.validate()?;
    check_definition(&state, &id, &definition).await?;
    Ok(Json(
        run(&state, &id, Command::Reconfigure { definition }).await?,
    ))
}
