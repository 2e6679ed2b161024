//! The access layer in front of every route: the `Host` check of loopback
//! listeners, the cross-origin check, then bearer tokens and their roles.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, HOST, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::host::is_loopback_host;
use super::origin::same_origin_or_not_a_browser;
use super::{ApiAccess, Role};
use crate::api::ApiError;

/// Paths served without a token: liveness probes, the API's description,
/// and the status page's files (they hold no data; the page asks for a
/// token to call the API).
fn is_open_path(path: &str) -> bool {
    crate::api::openapi::PUBLIC_PATHS.contains(&path) || crate::ui::PATHS.contains(&path)
}

const HOW_TO_AUTHENTICATE: &str = "send `Authorization: Bearer <token>` with a token the node was started with (`--api-token`, `CONNECTORS_API_TOKEN` or `--api-tokens-file`)";

/// Checks a request against `access`, then hands it on.
pub async fn guard(State(access): State<Arc<ApiAccess>>, request: Request, next: Next) -> Response {
    if let Err(refusal) = check(&access, &request) {
        return *refusal;
    }
    next.run(request).await
}

/// The refusal of a request that may not go on (boxed: a response is
/// large and the normal case carries nothing).
fn check(access: &ApiAccess, request: &Request) -> Result<(), Box<Response>> {
    if access.loopback_listener {
        // HTTP/1.1 sends `Host`; HTTP/2 the URI's authority.
        let host = request
            .headers()
            .get(HOST)
            .map(|h| h.to_str().unwrap_or("?").to_owned())
            .or_else(|| request.uri().authority().map(|a| a.to_string()));
        if let Some(host) = host.filter(|h| !is_loopback_host(h)) {
            return Err(Box::new(ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "misdirected-request",
                format!(
                    "this node listens on a loopback address and answers only requests addressed to `localhost`, `127.0.0.1` or `[::1]`, not `{host}` (a web page rebinding its name to this machine looks like this); to reach it by another name, listen on a network address (`--listen`) with API tokens"
                ),
            )
            .into_response()));
        }
    }
    if !same_origin_or_not_a_browser(request.method(), request.headers()) {
        return Err(Box::new(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross-origin-request",
            "a web page of another origin cannot change this node; use a tool such as `curl`, or a page served from the node's own origin",
        )
        .into_response()));
    }
    if access.tokens.is_empty() || is_open_path(request.uri().path()) {
        return Ok(());
    }
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .map(|value| bearer(value.to_str().unwrap_or("")));
    let role = match presented {
        None => {
            return Err(Box::new(unauthorized(
                format!("this node requires an API token: {HOW_TO_AUTHENTICATE}"),
                "Bearer realm=\"connectors\"",
            )))
        }
        Some(token) => match token.and_then(|t| access.tokens.role_of(t)) {
            Some(role) => role,
            None => {
                return Err(Box::new(unauthorized(
                    format!("the API token is not valid: {HOW_TO_AUTHENTICATE}"),
                    "Bearer realm=\"connectors\", error=\"invalid_token\"",
                )))
            }
        },
    };
    if !role.allows(request.method(), request.uri().path()) {
        let needs = if role == Role::Metrics && request.method() == http::Method::GET {
            "a `read` or `admin` token"
        } else {
            "an `admin` token"
        };
        return Err(Box::new(
            ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "the token's role `{}` may {}; `{} {}` needs {needs}",
                    role.name(),
                    role.scope(),
                    request.method(),
                    request.uri().path()
                ),
            )
            .into_response(),
        ));
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` value (scheme in any
/// case), or `None` for another scheme.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthorized(message: String, challenge: &'static str) -> Response {
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_tokens_are_read_in_any_case() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic YWRtaW4="), None);
        assert_eq!(bearer("Bearer"), None);
    }
}
