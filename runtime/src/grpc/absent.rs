//! The answer to calls for services this node does not serve (persistent
//! subscriptions, projections, users, operations, ...): `UNIMPLEMENTED`
//! with the message an ASP.NET Core gRPC host gives for a service it has
//! not mapped, which is what a KurrentDB node without them answers. Clients
//! built for KurrentDB recognise it, where tonic's own fallback sends the
//! same code with an empty message.

use axum::response::{IntoResponse, Response};
use tonic::service::Routes;
use tonic::Status;

/// The message of KurrentDB's (ASP.NET Core's) answer to an unknown service.
pub const UNKNOWN_SERVICE: &str = "Service is unimplemented.";

/// Routes with no service, whose fallback answers [`UNKNOWN_SERVICE`]; the
/// served services are added to them.
pub fn routes() -> Routes {
    Routes::from(axum::Router::new().fallback(unknown_service))
}

async fn unknown_service() -> Response {
    Status::unimplemented(UNKNOWN_SERVICE)
        .into_http::<axum::body::Body>()
        .into_response()
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn unknown_services_answer_like_kurrentdb() {
        let request = http::Request::builder()
            .method("POST")
            .uri("/event_store.client.persistent_subscriptions.PersistentSubscriptions/Create")
            .header("content-type", "application/grpc")
            .body(tonic::body::Body::empty())
            .expect("request");
        let response = routes().oneshot(request).await.expect("response");
        assert_eq!(
            response.status(),
            http::StatusCode::OK,
            "gRPC errors travel in HTTP 200"
        );
        let status = Status::from_header_map(response.headers()).expect("a grpc-status header");
        assert_eq!(status.code(), tonic::Code::Unimplemented);
        assert_eq!(status.message(), UNKNOWN_SERVICE);
    }
}
