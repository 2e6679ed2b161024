//! How the API shows a connector: its definition (secrets redacted) and its
//! live status, wherever it runs.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::definition_schema::ConnectorDefinitionSchema;
use super::super::AppState;
use crate::activation::Whereabouts;
use crate::connector::{ConnectorDefinition, ConnectorId, ConnectorState};
use crate::pipeline::{mark_outdated, PipelineStatus, RunState, StatusSnapshot};

/// A connector as the API shows it: its definition (secrets redacted) and
/// its live status.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorView {
    #[schema(value_type = String)]
    id: ConnectorId,
    /// A name for people, when one was given (`PUT /connectors/{id}/rename`).
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
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
pub struct StatusView {
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
pub(super) async fn status_of(
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

pub(super) async fn view(state: &AppState, connector: ConnectorState) -> ConnectorView {
    let (mut live, member, reason, age_ms) = status_of(state, &connector).await;
    mark_outdated(&state.modules, &mut live.stages).await;
    let lag = match state.store.head_position().await {
        Ok(head) => live.measure(head.map(|h| h.commit), connector.enabled),
        Err(_) => None,
    };
    ConnectorView {
        id: connector.id,
        name: connector.name,
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

/// A connector as listed or inspected: readable, or one whose stored events
/// cannot be read, shown by its id as faulted with the reason.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Listed {
    Readable(Box<ConnectorView>),
    Unreadable {
        #[schema(value_type = String)]
        id: ConnectorId,
        status: Box<StatusView>,
    },
}

/// A connector whose stored events cannot be read: faulted, with `reason`.
pub(super) fn unreadable_view(id: ConnectorId, reason: String) -> Listed {
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
