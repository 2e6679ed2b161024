//! What every definition a client sends must pass before it is stored: its
//! modules exist and fit, its WebAssembly stages accept their `config`, its
//! destinations are allowed.

use super::super::error::ApiError;
use super::super::AppState;
use super::view::{view, ConnectorView};
use crate::connector::{Command, ConnectorDefinition, ConnectorId, ConnectorState};
use crate::modules::ModuleRef;
use crate::pipeline::check_stage_configs;
use crate::sinks::SinkConfig;
use crate::wasm::World;

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
    Ok(check_stage_configs(&state.modules, id.as_str(), definition).await?)
}

pub(super) fn parse_id(id: &str) -> Result<ConnectorId, ApiError> {
    Ok(ConnectorId::parse(id)?)
}

pub(super) async fn run(
    state: &AppState,
    id: &ConnectorId,
    command: Command,
) -> Result<ConnectorView, ApiError> {
    let connector = state.execute(id, command).await?;
    Ok(view(state, connector).await)
}

/// refuses (names are checked when they are resolved).
fn check_destinations(state: &AppState, definition: &ConnectorDefinition) -> Result<(), ApiError> {
    definition
        .sink
        .check_destinations(state.wasm.destinations())
        .map_err(|e| ApiError::bad_request("destination-refused", e.to_string()))
}

/// What a definition must pass, after its own validation, before it is
/// stored: its destinations are allowed, its modules exist and fit, its
/// stages accept their `config`.
pub(super) async fn check_definition(
    state: &AppState,
    id: &ConnectorId,
    definition: &ConnectorDefinition,
) -> Result<(), ApiError> {
    check_destinations(state, definition)?;
    check_modules(state, definition).await?;
    check_configs(state, id, definition).await
}

/// The connector `id`, unless it does not exist or was deleted (404).
pub(super) async fn load_existing(
    state: &AppState,
    id: &ConnectorId,
) -> Result<ConnectorState, ApiError> {
    state
        .repository
        .load(id)
        .await?
        .filter(|c| !c.deleted)
        .ok_or_else(|| ApiError::not_found(format!("connector `{id}` not found")))
}

/// The longest name for people a connector may have, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Checks a connector's name for people: some text, one line, at most
/// [`MAX_NAME_CHARS`] characters.
pub(super) fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(
            "invalid-name",
            format!(
                "`name` must be one line of 1 to {MAX_NAME_CHARS} characters, e.g. `Orders to billing`"
            ),
        ));
    }
    Ok(name.to_owned())
}

/// Takes `name` out of a create's body, checked; absent = none.
pub(super) fn take_name(
    object: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<Option<String>, ApiError> {
    match object.remove("name") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(name)) => check_name(&name).map(Some),
        Some(other) => Err(ApiError::bad_request(
            "invalid-body",
            format!("at `name`: expected a string, got `{other}`"),
        )),
    }
}
