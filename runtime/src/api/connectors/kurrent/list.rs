//! `GET /connectors` with KurrentDB's query parameters (`state`,
//! `instanceTypeName`, `connectorId`, each repeatable, `includeSettings`,
//! `page`, `pageSize`), answered in KurrentDB's shape: `{"items",
//! "totalCount", "paging"}`.
//!
//! States map as follows: a connector stopping is `DEACTIVATING`; a
//! disabled one `STOPPED`; an enabled one `RUNNING` when it delivers,
//! `ACTIVATING` while it starts or waits for a member, and `STOPPED` with
//! `errorDetails` when it faulted. A connector whose stored events cannot
//! be read is `UNKNOWN`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::super::error::ApiError;
use super::super::super::AppState;
use super::super::view::status_of;
use crate::connector::{settings_map, ConnectorState};
use crate::pipeline::RunState;

const RUNNING: &str = "CONNECTOR_STATE_RUNNING";
const ACTIVATING: &str = "CONNECTOR_STATE_ACTIVATING";
const DEACTIVATING: &str = "CONNECTOR_STATE_DEACTIVATING";
const STOPPED: &str = "CONNECTOR_STATE_STOPPED";
const UNKNOWN: &str = "CONNECTOR_STATE_UNKNOWN";
const STATES: [&str; 5] = [ACTIVATING, RUNNING, DEACTIVATING, STOPPED, UNKNOWN];

/// The query parameters this listing reads.
pub const PARAMETERS: [&str; 6] = [
    "state",
    "instanceTypeName",
    "connectorId",
    "includeSettings",
    "page",
    "pageSize",
];

const MAX_PAGE_SIZE: usize = 1000;

/// The listing, in KurrentDB's shape.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KurrentListing {
    items: Vec<KurrentItem>,
    /// How many connectors pass the filters, over all pages.
    total_count: usize,
    paging: Paging,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct Paging {
    page: usize,
    page_size: usize,
}

/// One connector, in KurrentDB's shape.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct KurrentItem {
    connector_id: String,
    /// Its name for people; its id when it has none.
    name: String,
    /// `CONNECTOR_STATE_RUNNING`, `_ACTIVATING`, `_DEACTIVATING`, `_STOPPED`
    /// or `_UNKNOWN`.
    state: &'static str,
    /// When it was last changed (created, reconfigured, enabled, ...).
    state_timestamp: Option<DateTime<Utc>>,
    /// With `includeSettings=true`, when the definition has a settings map.
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<settings_map::Settings>,
    settings_timestamp: Option<DateTime<Utc>>,
    /// The position of the last event it handled.
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<u64>,
    /// Why it stopped, when it faulted.
    #[serde(skip_serializing_if = "Option::is_none")]
    error_details: Option<ErrorDetails>,
    #[serde(skip)]
    instance_type_name: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorDetails {
    message: String,
}

/// What the query asks for.
struct Query {
    states: Vec<String>,
    instance_types: Vec<String>,
    ids: Vec<String>,
    include_settings: bool,
    page: usize,
    page_size: usize,
}

impl Query {
    fn parse(query: &str) -> Result<Self, ApiError> {
        let mut parsed = Query {
            states: Vec::new(),
            instance_types: Vec::new(),
            ids: Vec::new(),
            include_settings: false,
            page: 1,
            page_size: 100,
        };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "state" => parsed.states.push(state_name(&value)?),
                "instanceTypeName" => parsed.instance_types.push(value.to_lowercase()),
                "connectorId" => parsed.ids.push(value.into_owned()),
                "includeSettings" => parsed.include_settings = flag(&value)?,
                "page" => parsed.page = number("page", &value, usize::MAX)?,
                "pageSize" => parsed.page_size = number("pageSize", &value, MAX_PAGE_SIZE)?,
                other => {
                    return Err(ApiError::bad_request(
                        "invalid-query",
                        format!(
                            "`{other}` is not a parameter of `GET /connectors`; its parameters \
                             are {}",
                            PARAMETERS.map(|p| format!("`{p}`")).join(", ")
                        ),
                    ))
                }
            }
        }
        Ok(parsed)
    }

    fn admits(&self, item: &KurrentItem) -> bool {
        let any =
            |wanted: &[String], value: &str| wanted.is_empty() || wanted.iter().any(|w| w == value);
        any(&self.states, item.state)
            && any(&self.instance_types, item.instance_type_name)
            && any(&self.ids, &item.connector_id)
    }
}

/// A state as KurrentDB names it, also without its prefix and in any case
/// (`running`).
fn state_name(value: &str) -> Result<String, ApiError> {
    let upper = value.trim().to_uppercase();
    STATES
        .iter()
        .find(|s| **s == upper || s.strip_prefix("CONNECTOR_STATE_") == Some(upper.as_str()))
        .map(|s| (*s).to_owned())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid-query",
                format!("`state`: `{value}` is not one of {}", STATES.join(", ")),
            )
        })
}

fn flag(value: &str) -> Result<bool, ApiError> {
    match value.to_lowercase().as_str() {
        "true" | "" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::bad_request(
            "invalid-query",
            format!("`includeSettings`: `{value}` is not `true` or `false`"),
        )),
    }
}

fn number(name: &str, value: &str, max: usize) -> Result<usize, ApiError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid-query",
                format!("`{name}`: `{value}` is not a whole number from 1 to {max}"),
            )
        })
}

/// `GET /connectors?...` in KurrentDB's shape (the route is
/// [`super::super::list`], which hands a request with a query here).
pub async fn list(state: &AppState, query: &str) -> Result<KurrentListing, ApiError> {
    let query = Query::parse(query)?;
    let listing = state.repository.list().await?;
    let mut items = Vec::new();
    for connector in listing.connectors {
        let item = item(state, &connector, query.include_settings).await;
        if query.admits(&item) {
            items.push(item);
        }
    }
    for unreadable in listing.unreadable {
        let item = KurrentItem {
            connector_id: unreadable.id.to_string(),
            name: unreadable.id.to_string(),
            state: UNKNOWN,
            state_timestamp: None,
            settings: None,
            settings_timestamp: None,
            position: None,
            error_details: Some(ErrorDetails {
                message: unreadable.reason,
            }),
            instance_type_name: "",
        };
        if query.admits(&item) {
            items.push(item);
        }
    }
    let total_count = items.len();
    let skip = (query.page - 1).saturating_mul(query.page_size);
    let items = items.into_iter().skip(skip).take(query.page_size).collect();
    Ok(KurrentListing {
        items,
        total_count,
        paging: Paging {
            page: query.page,
            page_size: query.page_size,
        },
    })
}

async fn item(state: &AppState, connector: &ConnectorState, include_settings: bool) -> KurrentItem {
    let (live, ..) = status_of(state, connector).await;
    let faulted = connector.enabled && live.state == RunState::Faulted;
    let kurrent_state = match (connector.enabled, live.state) {
        (_, RunState::Stopping) => DEACTIVATING,
        (false, _) => STOPPED,
        (true, RunState::Running) => RUNNING,
        (true, RunState::Faulted) => STOPPED,
        (true, _) => ACTIVATING,
    };
    let settings = include_settings
        .then(|| settings_map::to_settings(&connector.definition.redacted()).ok())
        .flatten();
    KurrentItem {
        connector_id: connector.id.to_string(),
        name: connector
            .name
            .clone()
            .unwrap_or_else(|| connector.id.to_string()),
        state: kurrent_state,
        state_timestamp: Some(connector.updated),
        settings,
        settings_timestamp: Some(connector.defined),
        position: live.position,
        error_details: faulted
            .then(|| live.last_error.map(|e| ErrorDetails { message: e.message }))
            .flatten(),
        instance_type_name: settings_map::instance_type_name(&connector.definition),
    }
}
