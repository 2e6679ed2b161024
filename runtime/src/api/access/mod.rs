//! Who may use the API, and from where.
//!
//! [`ApiAccess`] is applied to the whole router by [`ApiAccess::layer`]
//! ([`middleware::guard`]), in this order:
//! 1. on a listener bound to a loopback address, a `Host` that is not a
//!    loopback name or address is refused with 421 ([`host`], DNS
//!    rebinding);
//! 2. a request that changes something and that a browser marks as coming
//!    from another origin is refused with 403 ([`origin`]);
//! 3. when tokens are configured ([`tokens`]), every path but `/health`
//!    needs `Authorization: Bearer <token>` (401 with `WWW-Authenticate`
//!    otherwise), and a `read` token may only `GET` / `HEAD` (403).
//!
//! Body types are checked where bodies are read ([`content_type`]): JSON
//! bodies need `application/json`, module uploads a binary type (415).

pub mod content_type;
pub mod host;
mod middleware;
pub mod origin;
#[cfg(test)]
mod tests;
pub mod tokens;

use std::sync::Arc;

use axum::Router;

pub use tokens::{ApiTokens, Role, TokenError};

/// The API's access settings.
#[derive(Debug, Clone, Default)]
pub struct ApiAccess {
    /// The accepted tokens; empty: no token needed.
    pub tokens: ApiTokens,
    /// The API listens on a loopback address: only loopback `Host`s.
    pub loopback_listener: bool,
}

impl ApiAccess {
    /// Puts the access checks in front of every route of `router`.
    pub fn layer(self, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(
            Arc::new(self),
            middleware::guard,
        ))
    }
}
