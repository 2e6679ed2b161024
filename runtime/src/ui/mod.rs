//! The status page, `GET /ui`: a small single-page app over the node's own
//! HTTP API, its three files compiled into the binary (nothing is fetched
//! from anywhere else). The files hold no data, so they are served without
//! a token; the page asks for one when the API answers 401 and keeps it in
//! the browser tab. A strict `Content-Security-Policy` lets the page load
//! only its own script and style and talk only to its own origin.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// The paths the page is served from; the access layer serves them without
/// a token.
pub const PATHS: [&str; 4] = ["/ui", "/ui/", "/ui/app.js", "/ui/app.css"];

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// Only the page's own files and API; no inline script, no frames.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The routes of the page, for any router state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/ui",
            get(|| async { file(INDEX, "text/html; charset=utf-8") }),
        )
        .route("/ui/", get(|| async { Redirect::permanent("/ui") }))
        .route(
            "/ui/app.js",
            get(|| async { file(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/ui/app.css",
            get(|| async { file(STYLE, "text/css; charset=utf-8") }),
        )
}

fn file(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY)),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt as _;

    use super::*;

    async fn get(path: &str) -> Response {
        routes::<()>()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("response")
    }

    #[tokio::test]
    async fn the_page_and_its_files_are_served_with_their_types_and_policy() {
        for (path, content_type) in [
            ("/ui", "text/html; charset=utf-8"),
            ("/ui/app.js", "text/javascript; charset=utf-8"),
            ("/ui/app.css", "text/css; charset=utf-8"),
        ] {
            let response = get(path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()[CONTENT_TYPE], content_type, "{path}");
            assert_eq!(
                response.headers()[CONTENT_SECURITY_POLICY],
                POLICY,
                "{path}"
            );
            assert!(PATHS.contains(&path));
        }
        assert_eq!(get("/ui/").await.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(get("/ui/other").await.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        // Every script and style the page names is one of ours.
        for reference in ["src=\"", "href=\""] {
            for (i, _) in INDEX.match_indices(reference) {
                let rest = &INDEX[i + reference.len()..];
                let target = &rest[..rest.find('"').expect("closed attribute")];
                assert!(
                    target.starts_with('#') || PATHS.contains(&target),
                    "the page refers to {target}"
                );
            }
        }
    }
}
