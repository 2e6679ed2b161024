//! The `{name}` part of a route, decoded, with a JSON error when it is not
//! UTF-8 once percent-decoded (axum's own rejection is plain text).

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::error::ApiError;

/// One path parameter, percent-decoded.
pub struct PathName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(name)) => Ok(PathName(name)),
            Err(rejection) => Err(ApiError::bad_request(
                "invalid-path",
                format!(
                    "the name in the path cannot be used ({}); percent-encode UTF-8 text, e.g. `/streams/orders-42`",
                    rejection.body_text()
                ),
            )),
        }
    }
}
