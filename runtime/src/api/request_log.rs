//! One span per API request, and one line when it completes.
//!
//! The span `request` carries the `method`, a `request_id` (fresh for each
//! request) and the route's `path` template (`/connectors/{id}`, never the
//! connector's id nor the query); everything the handler logs happens in it.
//! When the response is ready a line `request finished` gives its `status`
//! and `latency_ms` (at `error` for a 5xx, else `info`). Neither the
//! headers (tokens) nor the bodies (secrets) are logged.
//!
//! [`layer`] goes outside every other layer, so requests the access checks
//! refuse are logged too (without a `path`, as they never reached a route);
//! [`record_route`] runs inside the router and fills the `path` in.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// The span of a request.
fn request_span(request: &Request<Body>) -> Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = tracing::field::Empty,
        request_id = %uuid::Uuid::new_v4(),
    )
}

/// The line written when a response is ready.
fn request_finished(response: &Response, latency: Duration, _span: &Span) {
    let status = response.status().as_u16();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if response.status().is_server_error() {
        tracing::error!(status, latency_ms, "request finished");
    } else {
        tracing::info!(status, latency_ms, "request finished");
    }
}

/// The tracing layer of the API: a span per request, a line per response.
pub type RequestLogLayer = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    fn(&Request<Body>) -> Span,
    (),
    fn(&Response, Duration, &Span),
    (),
    (),
    (),
>;

/// The layer that gives every request its span and logs its completion.
pub fn layer() -> RequestLogLayer {
    TraceLayer::new_for_http()
        .make_span_with(request_span as fn(&Request<Body>) -> Span)
        .on_request(())
        .on_response(request_finished as fn(&Response, Duration, &Span))
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// Records the template of the route a request matched in its span.
pub async fn record_route(request: Request, next: Next) -> Response {
    if let Some(path) = request.extensions().get::<MatchedPath>() {
        Span::current().record("path", path.as_str());
    }
    next.run(request).await
}
