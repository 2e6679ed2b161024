//! The `{name}` parts of a route, decoded, with a JSON error when one is not
//! UTF-8 once percent-decoded (axum's own rejection is plain text).

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::error::ApiError;

/// One path parameter, percent-decoded.
pub struct PathName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(name)| PathName(name))
            .map_err(refused)
    }
}

/// Two path parameters, percent-decoded, e.g. `/connectors/{id}/start/{position}`.
pub struct PathPair(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathPair {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|Path((first, second))| PathPair(first, second))
            .map_err(refused)
    }
}

fn refused(rejection: axum::extract::rejection::PathRejection) -> ApiError {
    ApiError::bad_request(
        "invalid-path",
        format!(
            "the name in the path cannot be used ({}); percent-encode UTF-8 text, e.g. `/streams/orders-42`",
            rejection.body_text()
        ),
    )
}
