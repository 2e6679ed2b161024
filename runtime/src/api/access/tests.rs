//! The access layer on a small router, without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;

use super::{ApiAccess, ApiTokens, Role};

const ADMIN: &str = "admin-token-0123456789";
const READER: &str = "read-token-0123456789";

fn app(loopback_listener: bool) -> Router {
    let mut tokens = ApiTokens::default();
    tokens.add(ADMIN, Role::Admin).unwrap();
    tokens.add(READER, Role::Read).unwrap();
    let routes = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/things",
            get(|| async { "list" }).post(|| async { "made" }),
        );
    ApiAccess {
        tokens,
        loopback_listener,
    }
    .layer(routes)
}

async fn send(app: Router, method: &str, path: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    response.status()
}

#[tokio::test]
async fn tokens_and_roles_decide() {
    let admin = format!("Bearer {ADMIN}");
    let reader = format!("Bearer {READER}");
    assert_eq!(send(app(true), "GET", "/health", &[]).await, StatusCode::OK);
    assert_eq!(
        send(app(true), "GET", "/things", &[]).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(
            app(true),
            "GET",
            "/things",
            &[("authorization", "Bearer nope-nope-nope-nope")]
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(app(true), "GET", "/things", &[("authorization", &reader)]).await,
        StatusCode::OK
    );
    assert_eq!(
        send(app(true), "POST", "/things", &[("authorization", &reader)]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(app(true), "POST", "/things", &[("authorization", &admin)]).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn hosts_are_checked_only_on_loopback_listeners() {
    let admin = format!("Bearer {ADMIN}");
    let foreign = [
        ("host", "evil.example:2119"),
        ("authorization", admin.as_str()),
    ];
    assert_eq!(
        send(app(true), "GET", "/things", &foreign).await,
        StatusCode::MISDIRECTED_REQUEST
    );
    assert_eq!(
        send(app(true), "GET", "/health", &foreign[..1]).await,
        StatusCode::MISDIRECTED_REQUEST
    );
    assert_eq!(
        send(app(false), "GET", "/things", &foreign).await,
        StatusCode::OK
    );
    let local = [
        ("host", "localhost:2119"),
        ("authorization", admin.as_str()),
    ];
    assert_eq!(
        send(app(true), "GET", "/things", &local).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn cross_origin_changes_are_refused_before_tokens_are_looked_at() {
    let admin = format!("Bearer {ADMIN}");
    let headers = [
        ("sec-fetch-site", "cross-site"),
        ("authorization", admin.as_str()),
    ];
    assert_eq!(
        send(app(true), "POST", "/things", &headers).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(app(true), "GET", "/things", &headers).await,
        StatusCode::OK
    );
}
