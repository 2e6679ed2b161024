//! KurrentDB Connectors' management API, mapped onto the same connectors,
//! so scripts and definitions written for KurrentDB's HTTP and Serilog
//! sinks work here unchanged:
//!
//! - `POST /connectors/{id}` with `{"name", "settings"}` creates a connector
//!   from a settings map ([`crate::connector::settings_map`]), stopped, as
//!   KurrentDB does;
//! - `start`, `start/{position}`, `stop`, `reset/{position}` and `rename`
//!   ([`verbs`]);
//! - `GET` and `PUT /connectors/{id}/settings` ([`settings`]);
//! - `GET /connectors` with KurrentDB's query parameters, answered as
//!   `{"items", "totalCount", "paging"}` ([`list`]).
//!
//! A `{position}` is a log position: the connector delivers the events
//! after it, and `0` is the start of the log.

mod list;
mod settings;
mod verbs;

use axum::http::StatusCode;
use axum::Json;

pub(super) use list::list as listing;
pub use list::KurrentListing;
pub use settings::*;
pub use verbs::*;

use super::super::error::ApiError;
use super::super::AppState;
use super::checks::{check_definition, run, take_name};
use super::view::ConnectorView;
use crate::connector::{settings_map, Command, ConnectorId};

/// Creates connector `id` from KurrentDB's create body, `{"name",
/// "settings"}`: stopped until it is started, as in KurrentDB.
pub(super) async fn create(
    state: &AppState,
    id: ConnectorId,
    mut body: serde_json::Map<String, serde_json::Value>,
) -> Result<(StatusCode, Json<ConnectorView>), ApiError> {
    let name = take_name(&mut body)?;
    let settings = match body.remove("settings") {
        Some(serde_json::Value::Object(settings)) => settings,
        other => {
            return Err(ApiError::bad_request(
                "invalid-body",
                format!(
                    "at `settings`: expected an object of settings, e.g. `{{\"instanceTypeName\": \
                     \"http-sink\", \"url\": \"https://example.com/hook\"}}`, got `{}`",
                    other.unwrap_or_default()
                ),
            ))
        }
    };
    if let Some(field) = body.keys().next() {
        return Err(ApiError::bad_request(
            "invalid-body",
            format!(
                "at `{field}`: unknown field; a create with `settings` takes `name` and \
                 `settings` only (the native shape puts `sink`, `filter`, ... at the top)"
            ),
        ));
    }
    let settings = settings_map::from_json("settings", settings)?;
    let definition = settings_map::to_definition(&settings)?;
    settings_map::validate(&definition)?;
    check_definition(state, &id, &definition).await?;
    let command = Command::Create {
        definition,
        enable: false,
        name,
    };
    Ok((StatusCode::CREATED, Json(run(state, &id, command).await?)))
}
