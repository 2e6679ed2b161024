//! `GET /members`: every member of the cluster heard from, with its role,
//! address, last heartbeat and the connectors it runs.

use axum::extract::State;
use axum::Json;

use super::AppState;
use crate::activation::MemberView;

pub async fn list(State(state): State<AppState>) -> Json<Vec<MemberView>> {
    Json(state.cluster.members())
}
