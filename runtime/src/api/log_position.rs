//! Checks a log position a client names as where a connector starts (`start`
//! at create, `to` of a reset) against the log as it is now, so a typo does
//! not silently skip the events appended until the log reaches it.
//!
//! On the embedded store positions are event sequence numbers, contiguous
//! from 1 to the head, so a position is accepted exactly when it is an
//! event's. On KurrentDB positions are byte offsets in its transaction log:
//! only "at most the head" can be checked there, so take positions from
//! events (a delivery's `position`, a stream read).

use axum::http::StatusCode;

use super::error::ApiError;
use super::AppState;
use crate::connector::StartFrom;

/// Where a reset may go, shown whenever a reset target is missing or refused.
pub const RESET_TARGETS: &str = "send where the new round starts: `{\"to\": \"start\"}` \
     (replay the whole log), `{\"to\": \"end\"}` (only events appended from now on) or \
     `{\"to\": 1234}` (the events after log position 1234, e.g. the `position` of the \
     last event a receiver handled)";

/// Refuses a position past the head of the log, or 0 (no event has it).
/// `field` names where the position came from, e.g. `to`.
pub async fn check(state: &AppState, field: &str, start: StartFrom) -> Result<(), ApiError> {
    let StartFrom::After(position) = start else {
        return Ok(());
    };
    let head = state.store.head_position().await?.map_or(0, |p| p.commit);
    if position.commit == 0 {
        return Err(refused(format!(
            "`{field}`: 0 is not the position of an event (positions start after it); \
             use `\"start\"` to begin with the first event"
        )));
    }
    if position.commit > head {
        return Err(refused(format!(
            "`{field}`: position {} is past the end of the log, whose last event is at \
             position {head}; events appended until the log got there would be skipped. \
             Use `\"end\"` to deliver only events appended from now on, or a position \
             of at most {head}",
            position.commit
        )));
    }
    Ok(())
}

fn refused(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-position",
        message,
    )
}
