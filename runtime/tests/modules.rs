//! Uploaded WebAssembly modules: the `/modules` API, their storage in the
//! event store, restarts and the compiled-component cache, against a real
//! in-process node.
//!
//! The real components come from `guest-examples/build.sh` (into
//! `guest-examples/dist/`); the hostile uploads need no build.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use connectors::modules::{
    chunk_stream, digest_of, ModuleError, ModuleRef, CHUNK_BYTES, CHUNK_EVENT, DELETED_EVENT,
    INDEX_STREAM, UPLOADED_EVENT,
};
use connectors::node::{Node, NodeConfig};
use connectors::store::{
    AllStart, ContentType, Direction, ExpectedRevision, NewEvent, StoreError, StreamStart,
};
use serde_json::{json, Value};
use tower::ServiceExt;
use uuid::Uuid;

// ---------------------------------------------------------------- helpers

async fn start(dir: &Path, max_module_bytes: usize) -> Node {
    Node::start(NodeConfig {
        store: connectors::node::StoreLocation::Embedded,
        grpc: None,
        data_dir: dir.to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        // Smaller than the real components: uploads have their own limit.
        max_body_bytes: 1 << 20,
        member: "test".into(),
        max_module_bytes,
        destinations: Default::default(),
        secrets: Default::default(),
        access: Default::default(),
    })
    .await
    .unwrap()
}

/// Calls the API without a socket; the body as JSON (`Null` when empty).
async fn call(router: &Router, method: Method, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(&method)
        .uri(path)
        .header("content-type", "application/octet-stream")
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {bytes:?}"))
    };
    (status, value)
}

async fn put(router: &Router, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    call(router, Method::PUT, &format!("/modules/{name}"), bytes).await
}

/// `guest-examples/dist/`, where `guest-examples/build.sh` puts the built
/// components (or `$GUEST_EXAMPLES_DIST`).
fn dist() -> PathBuf {
    match std::env::var_os("GUEST_EXAMPLES_DIST") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-examples/dist"),
    }
}

fn example(file: &str) -> Vec<u8> {
    let path = dist().join(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): run `guest-examples/build.sh` first to build the example components",
            path.display()
        )
    })
}

/// The largest component in `dist/` (a Python or JavaScript one when they
/// were built), made larger than two chunks if need be by appending a
/// custom section: still a valid component of the same worlds.
fn large_example() -> (String, Vec<u8>) {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(dist())
        .unwrap_or_else(|e| {
            panic!(
                "cannot list {} ({e}): run `guest-examples/build.sh` first",
                dist().display()
            )
        })
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "wasm"))
        .map(|path| (std::fs::metadata(&path).unwrap().len(), path))
        .collect();
    files.sort();
    let (_, path) = files
        .pop()
        .expect("no .wasm file in guest-examples/dist/: run `guest-examples/build.sh` first");
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let mut bytes = std::fs::read(&path).unwrap();
    if bytes.len() > 2 * CHUNK_BYTES {
        return (name, bytes);
    }
    let section_name = b"padding";
    let payload = 2 * CHUNK_BYTES + 123_457;
    bytes.push(0); // a custom section
    leb128(&mut bytes, 1 + section_name.len() + payload);
    leb128(&mut bytes, section_name.len());
    bytes.extend_from_slice(section_name);
    bytes.extend((0..payload).map(|i| (i % 251) as u8));
    (format!("{name}-padded"), bytes)
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Asserts the node stored nothing about modules: the API lists none and
/// no `$modules` stream has an event.
async fn assert_nothing_stored(node: &Node, after: &str) {
    let (status, list) = call(&node.router(), Method::GET, "/modules", Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{after}: {list}");
    assert_eq!(list, json!([]), "{after}: modules listed");
    let index = node
        .store()
        .read_stream(INDEX_STREAM, Direction::Forwards, StreamStart::Start, 10)
        .await;
    assert!(
        matches!(index, Err(StoreError::StreamNotFound(_))),
        "{after}: the index exists: {index:?}"
    );
    let all = node
        .store()
        .read_all(Direction::Forwards, AllStart::Start, 100_000)
        .await
        .unwrap();
    let stored: Vec<&str> = all
        .iter()
        .map(|e| e.stream.as_str())
        .filter(|s| s.starts_with(INDEX_STREAM))
        .collect();
    assert!(
        stored.is_empty(),
        "{after}: module streams written: {stored:?}"
    );
}

fn assert_error(
    status: StatusCode,
    body: &Value,
    expected: StatusCode,
    code: &str,
    needles: &[&str],
) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
    let message = body["message"].as_str().unwrap();
    for needle in needles {
        assert!(
            message.contains(needle),
            "`{needle}` not in the message: {message}"
        );
    }
}

/// Finds `name` anywhere under `dir`.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

fn pinned(name: &str, digest: &str) -> ModuleRef {
    ModuleRef::parse(&format!("{name}@{digest}")).unwrap()
}

// ---------------------------------------------------------------- hostile uploads

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
        data: b"something else".to_vec(),
        metadata: Vec::new(),
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

// ---------------------------------------------------------------- real components

#[tokio::test]
async fn real_components_are_stored_listed_resolved_and_survive_a_restart() {
    let transform = example("filter-by-type.wasm");
    let sink = example("webhook-hmac.wasm");
    let (large_name, large) = large_example();
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), 64 << 20).await;
    let router = node.router();

    // Upload: 201 with the version.
    let transform_digest = digest_of(&transform);
    let (status, body) = put(&router, "filter-by-type", transform.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "filter-by-type");
    assert_eq!(body["digest"], transform_digest.as_str());
    assert!(transform_digest.starts_with("sha256:") && transform_digest.len() == 71);
    assert_eq!(body["size"], transform.len() as u64);
    assert_eq!(body["worlds"], json!(["transform"]));
    assert_eq!(
        body["reference"],
        format!("filter-by-type@{transform_digest}").as_str()
    );
    let uploaded = body["uploaded"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(uploaded).is_ok(),
        "{uploaded}"
    );

    // Again, same bytes: 200, same version, nothing written.
    let index_before = node
        .store()
        .read_stream(INDEX_STREAM, Direction::Forwards, StreamStart::Start, 100)
        .await
        .unwrap();
    let (status, again) = put(&router, "filter-by-type", transform.clone()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, body);
    let index_after = node
        .store()
        .read_stream(INDEX_STREAM, Direction::Forwards, StreamStart::Start, 100)
        .await
        .unwrap();
    assert_eq!(index_before.len(), index_after.len());

    let sink_digest = digest_of(&sink);
    let (status, body) = put(&router, "webhook-hmac", sink.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        body["worlds"].as_array().unwrap().contains(&json!("sink")),
        "{body}"
    );

    // A multi-chunk component, over the API's general body limit.
    let large_digest = digest_of(&large);
    let (status, body) = put(&router, &large_name, large.clone()).await;
    // (200 when the largest is one of the two above.)
    assert!(
        matches!(status, StatusCode::CREATED | StatusCode::OK),
        "{body}"
    );
    let chunks = node
        .store()
        .read_stream(
            &chunk_stream(&large_digest),
            Direction::Forwards,
            StreamStart::Start,
            10_000,
        )
        .await
        .unwrap();
    assert_eq!(chunks.len(), large.len().div_ceil(CHUNK_BYTES));
    assert!(chunks.iter().all(|c| c.event_type == CHUNK_EVENT
        && c.content_type == ContentType::Binary
        && c.data.len() <= CHUNK_BYTES));
    assert_eq!(node.modules().bytes(&large_digest).await.unwrap(), large);
    assert_eq!(
        node.modules().bytes(&transform_digest).await.unwrap(),
        transform
    );
    // The index entries come after the chunks they name.
    let all = node
        .store()
        .read_all(Direction::Forwards, AllStart::Start, 100_000)
        .await
        .unwrap();
    let last_chunk = all
        .iter()
        .rposition(|e| e.stream == chunk_stream(&large_digest))
        .unwrap();
    let entry = all
        .iter()
        .position(|e| {
            e.stream == INDEX_STREAM
                && e.event_type == UPLOADED_EVENT
                && serde_json::from_slice::<Value>(&e.data).unwrap()["digest"]
                    == large_digest.as_str()
        })
        .unwrap();
    assert!(entry > last_chunk);

    // Two versions under one name.
    let (status, _) = put(&router, "multi", transform.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = put(&router, "multi", sink.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, detail) = call(&router, Method::GET, "/modules/multi", Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["name"], "multi");
    assert_eq!(detail["latest"]["digest"], sink_digest.as_str());
    let versions: Vec<&str> = detail["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["digest"].as_str().unwrap())
        .collect();
    assert_eq!(versions, [sink_digest.as_str(), transform_digest.as_str()]);

    // The list: every name with its latest version.
    let (status, list) = call(&router, Method::GET, "/modules", Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let mut names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    names.sort();
    let mut expected = vec![
        "filter-by-type",
        "multi",
        "webhook-hmac",
        large_name.as_str(),
    ];
    expected.sort();
    expected.dedup();
    assert_eq!(names, expected);
    let multi = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "multi")
        .unwrap();
    assert_eq!(multi["digest"], sink_digest.as_str());
    assert_eq!(multi["versionCount"], 2);
    assert_eq!(multi["size"], sink.len() as u64);

    // Resolving: the latest, or a pinned version of that name only.
    let modules = node.modules();
    let latest = modules
        .resolve(&ModuleRef::parse("multi").unwrap())
        .await
        .unwrap();
    assert_eq!(latest.digest, sink_digest);
    let old = modules
        .resolve(&pinned("multi", &transform_digest))
        .await
        .unwrap();
    assert_eq!(
        (old.digest.as_str(), old.size),
        (transform_digest.as_str(), transform.len() as u64)
    );
    let foreign = modules
        .resolve(&pinned("filter-by-type", &sink_digest))
        .await;
    assert!(
        matches!(foreign, Err(ModuleError::VersionNotFound { .. })),
        "{foreign:?}"
    );

    // Restart on the same directory.
    drop(router);
    drop(node);
    let node = start(dir.path(), 64 << 20).await;
    let (_, list) = call(&node.router(), Method::GET, "/modules", Vec::new()).await;
    assert_eq!(list.as_array().unwrap().len(), expected.len(), "{list}");
    let resolved = node
        .modules()
        .resolve(&pinned("filter-by-type", &transform_digest))
        .await
        .unwrap();
    assert_eq!(resolved.worlds, vec![connectors::wasm::World::Transform]);
    assert_eq!(node.modules().bytes(&large_digest).await.unwrap(), large);

    // The compiled artifacts were cached at upload and load without the bytes.
    for digest in [&transform_digest, &sink_digest, &large_digest] {
        let file = format!("{}.cwasm", digest.replace(':', "-"));
        assert!(
            find_file(&dir.path().join("wasm-cache"), &file).is_some(),
            "no {file} under wasm-cache/"
        );
        let wasm = node.wasm().clone();
        let digest = digest.clone();
        tokio::task::spawn_blocking(move || {
            wasm.component(&digest, || panic!("should come from the cache"))
        })
        .await
        .unwrap()
        .unwrap();
    }
}

#[tokio::test]
async fn interrupted_and_damaged_uploads_are_repaired() {
    let (_, large) = large_example();
    let digest = digest_of(&large);
    let stream = chunk_stream(&digest);
    let chunk = |data: &[u8]| NewEvent {
        id: Uuid::new_v4(),
        event_type: CHUNK_EVENT.into(),
        content_type: ContentType::Binary,
        data: data.to_vec(),
        metadata: Vec::new(),
    };

    // A crash after the first chunk: the next upload completes the stream.
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), 64 << 20).await;
    node.store()
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![chunk(&large[..CHUNK_BYTES])],
        )
        .await
        .unwrap();
    let version = node.modules().upload("large", large.clone()).await.unwrap();
    assert_eq!(version.digest, digest);
    assert_eq!(node.modules().bytes(&digest).await.unwrap(), large);

    // Chunks that do not match: replaced.
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), 64 << 20).await;
    node.store()
        .append(&stream, ExpectedRevision::NoStream, vec![chunk(b"garbage")])
        .await
        .unwrap();
    node.modules().upload("large", large.clone()).await.unwrap();
    assert_eq!(node.modules().bytes(&digest).await.unwrap(), large);
}

// ---------------------------------------------------------------- in use

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
