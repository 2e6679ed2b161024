//! Modules that connectors use cannot be deleted.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use axum::http::{Method, StatusCode};
use connectors::modules::{DELETED_EVENT, INDEX_STREAM};
use connectors::store::{Direction, StreamStart};
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn modules_in_use_cannot_be_deleted() {
    let transform = example("filter-by-type.wasm");
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), 64 << 20).await;
    let router = node.router();
    let (status, body) = put(&router, "filter-by-type", transform.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = put(&router, "unused", transform).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let connector = json!({
        "sink": { "type": "console" },
        "transforms": [{ "module": "filter-by-type", "config": { "types": ["A"] } }],
    });
    for id in ["orders", "audit"] {
        let (status, body) = call(
            &router,
            Method::POST,
            &format!("/connectors/{id}"),
            serde_json::to_vec(&connector).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let (status, body) = call(
        &router,
        Method::DELETE,
        "/modules/filter-by-type",
        Vec::new(),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "module-in-use",
        &["`audit`", "`orders`"],
    );
    assert_eq!(body["details"]["connectors"], json!(["audit", "orders"]));
    let (status, _) = call(&router, Method::GET, "/modules/filter-by-type", Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "still there");

    // Sharing the content does not make another name in use.
    let (status, body) = call(&router, Method::DELETE, "/modules/unused", Vec::new()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    for id in ["orders", "audit"] {
        let (status, body) = call(
            &router,
            Method::DELETE,
            &format!("/connectors/{id}"),
            Vec::new(),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (status, body) = call(
        &router,
        Method::DELETE,
        "/modules/filter-by-type",
        Vec::new(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = call(&router, Method::GET, "/modules/filter-by-type", Vec::new()).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not-found",
        &["filter-by-type"],
    );
    let (status, body) = call(
        &router,
        Method::DELETE,
        "/modules/filter-by-type",
        Vec::new(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, list) = call(&router, Method::GET, "/modules", Vec::new()).await;
    assert_eq!(list, json!([]));
    let deleted = node
        .store()
        .read_stream(INDEX_STREAM, Direction::Backwards, StreamStart::End, 1)
        .await
        .unwrap();
    assert_eq!(deleted[0].event_type, DELETED_EVENT);
}
