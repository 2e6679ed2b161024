//! `GET /metrics`: the node's metrics in the OpenMetrics text format, for
//! Prometheus. What is a state rather than a count is read now: each
//! running connector's distance to the log's head (one read of the head
//! for all of them) and the members of the cluster. Behind the same access
//! checks as every route: a `read` token may scrape.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::metrics::{ConnectorProgress, Snapshot, CONTENT_TYPE as METRICS_TYPE};

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "scrapeMetrics",
    tag = "node",
    responses((status = 200, description = "The node's metrics in the OpenMetrics text format (Prometheus scrapes it); a `read` token may scrape", content_type = "application/openmetrics-text"))
)]
pub async fn scrape(State(state): State<AppState>) -> Result<Response, ApiError> {
    let snapshot = snapshot(&state).await;
    let text = state.metrics.render(&snapshot).map_err(|error| {
        tracing::error!(%error, "the metrics could not be rendered");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the metrics could not be rendered; see the node's log",
        )
    })?;
    Ok(([(CONTENT_TYPE, METRICS_TYPE)], text).into_response())
}

/// The running connectors' progress and the cluster's members, now. When
/// the log's head cannot be read, lag is left out (caught-up is then 0).
async fn snapshot(state: &AppState) -> Snapshot {
    let head = match state.store.head_position().await {
        Ok(head) => Some(head.map(|h| h.commit)),
        Err(error) => {
            tracing::warn!(%error, "cannot read the log's head for the metrics");
            None
        }
    };
    let connectors = state
        .supervisor
        .running_statuses()
        .into_iter()
        .map(|(id, mut status)| {
            let (positions_behind, caught_up) = match head {
                Some(head) => {
                    let behind = status.measure(head, true);
                    (behind, status.caught_up)
                }
                None => (None, false),
            };
            ConnectorProgress {
                connector: id.to_string(),
                positions_behind,
                caught_up,
            }
        })
        .collect();
    let members = state
        .cluster
        .members()
        .into_iter()
        .map(|m| (m.member, m.alive, m.connectors.len()))
        .collect();
    Snapshot {
        connectors,
        members,
    }
}
