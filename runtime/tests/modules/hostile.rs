//! Hostile uploads: refused with the reason, and nothing stored.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use axum::http::{Method, StatusCode};
use connectors::modules::{chunk_stream, digest_of, ModuleError, ModuleRef, CHUNK_EVENT};
use connectors::store::{ContentType, ExpectedRevision, NewEvent};
use uuid::Uuid;

use super::support::*;

#[tokio::test]
async fn hostile_uploads_are_refused_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let max = 4096;
    let node = start(dir.path(), max).await;
    let router = node.router();

    let random: Vec<u8> = (0..1000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (status, body) = put(&router, "random", random).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid-module",
        &["not WebAssembly"],
    );
    assert_nothing_stored(&node, "random bytes").await;

    let core = b"\0asm\x01\0\0\0".to_vec();
    let (status, body) = put(&router, "core", core).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid-module",
        &[
            "core WebAssembly module",
            "not a component",
            "wasm-tools component new",
        ],
    );
    assert_nothing_stored(&node, "a core module").await;

    // The smallest valid component: it exports nothing, so it fits neither
    // world.
    let empty_component = b"\0asm\x0d\0\x01\0".to_vec();
    let (status, body) = put(&router, "empty", empty_component).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid-module",
        &["neither world", "as a transform", "as a sink", "no export"],
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("transform") && message.contains("sink"),
        "{message}"
    );
    assert_nothing_stored(&node, "an empty component").await;

    // Just over the limit: the registry's own answer.
    let (status, body) = put(&router, "big", vec![0; max + 1]).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        &["--max-module-bytes"],
    );
    // Far over: the route's body limit.
    let (status, body) = put(&router, "huge", vec![0; 1 << 20]).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        &["--max-module-bytes"],
    );
    assert_nothing_stored(&node, "oversized bodies").await;

    for bad in ["-leading-dash", "has%20space", "a@b"] {
        let (status, body) = put(&router, bad, b"\0asm\x0d\0\x01\0".to_vec()).await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "invalid-name",
            &["not a valid module name"],
        );
    }
    assert_nothing_stored(&node, "invalid names").await;

    let (status, body) = call(&router, Method::GET, "/modules/nothing", Vec::new()).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not-found",
        &["`nothing`"],
    );
    let (status, body) = call(&router, Method::DELETE, "/modules/nothing", Vec::new()).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not-found",
        &["`nothing`"],
    );
    let missing = node
        .modules()
        .resolve(&ModuleRef::parse("nothing").unwrap())
        .await;
    assert!(
        matches!(missing, Err(ModuleError::NotFound(_))),
        "{missing:?}"
    );
    let unknown = digest_of(b"never stored");
    let missing = node.modules().bytes(&unknown).await;
    assert!(
        matches!(missing, Err(ModuleError::ContentNotFound(_))),
        "{missing:?}"
    );
    assert_nothing_stored(&node, "reads").await;
}

#[tokio::test]
async fn uploads_have_their_own_body_limit() {
    // The node's general limit is 1 MiB; a 2 MiB upload within the module
    // limit gets through to validation.
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), 4 << 20).await;
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.resize(2 << 20, 0);
    let (status, body) = put(&node.router(), "big", bytes).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid-module",
        &["does not compile"],
    );
    // Other routes keep the general limit.
    let (status, body) = call(
        &node.router(),
        Method::POST,
        "/connectors/big",
        vec![b' '; 2 << 20],
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        &[],
    );
    assert_nothing_stored(&node, "a large invalid component").await;
}

#[tokio::test]
async fn content_that_does_not_hash_to_its_digest_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), 1 << 20).await;
    let digest = digest_of(b"the real content");
    let chunk = NewEvent {
        id: Uuid::new_v4(),
        event_type: CHUNK_EVENT.into(),
        content_type: ContentType::Binary,
        data: b"something else".to_vec().into(),
        metadata: Default::default(),
    };
    node.store()
        .append(
            &chunk_stream(&digest),
            ExpectedRevision::NoStream,
            vec![chunk],
        )
        .await
        .unwrap();
    let error = node.modules().bytes(&digest).await.unwrap_err();
    assert!(matches!(error, ModuleError::Corrupt { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("corrupt") && message.contains(&digest),
        "{message}"
    );
}
