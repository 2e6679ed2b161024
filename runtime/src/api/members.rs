//! `GET /members`: every member of the cluster heard from, with its role,
//! address, last heartbeat and the connectors it runs.

use axum::extract::State;
use axum::Json;

use super::AppState;
use crate::activation::MemberView;

/// `GET /members`.
#[utoipa::path(
    get,
    path = "/members",
    operation_id = "listMembers",
    tag = "node",
    responses((status = 200, description = "Every member: its name, role, address, last heartbeat and the connectors it runs", body = Vec<MemberView>))
)]
pub async fn list(State(state): State<AppState>) -> Json<Vec<MemberView>> {
    Json(state.cluster.members())
}
