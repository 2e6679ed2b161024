//! A node started in-process, requests to its router, the example
//! components, and checks of what the store holds.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use connectors::modules::{ModuleRef, CHUNK_BYTES, INDEX_STREAM};
use connectors::node::{Node, NodeConfig};
use connectors::store::{AllStart, Direction, StoreError, StreamStart};
use serde_json::{json, Value};
use tower::ServiceExt;

pub async fn start(dir: &Path, max_module_bytes: usize) -> Node {
    Node::start(NodeConfig {
        store: connectors::node::StoreLocation::Embedded,
        grpc: None,
        data_dir: dir.to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        // Smaller than the real components: uploads have their own limit.
        max_body_bytes: 1 << 20,
        member: "test".into(),
        role: None,
        runs_connectors: true,
        heartbeat: connectors::activation::DEFAULT_HEARTBEAT,
        lease: connectors::activation::DEFAULT_LEASE,
        max_module_bytes,
        destinations: Default::default(),
        secrets: Default::default(),
        access: Default::default(),
    })
    .await
    .unwrap()
}

/// Calls the API without a socket; the body as JSON (`Null` when empty).
pub async fn call(
    router: &Router,
    method: Method,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
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

pub async fn put(router: &Router, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    call(router, Method::PUT, &format!("/modules/{name}"), bytes).await
}

/// `guest-examples/dist/`, where `guest-examples/build.sh` puts the built
/// components (or `$GUEST_EXAMPLES_DIST`).
pub fn dist() -> PathBuf {
    match std::env::var_os("GUEST_EXAMPLES_DIST") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-examples/dist"),
    }
}

pub fn example(file: &str) -> Vec<u8> {
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
pub fn large_example() -> (String, Vec<u8>) {
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

pub fn leb128(out: &mut Vec<u8>, mut value: usize) {
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
pub async fn assert_nothing_stored(node: &Node, after: &str) {
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

pub fn assert_error(
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
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
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

pub fn pinned(name: &str, digest: &str) -> ModuleRef {
    ModuleRef::parse(&format!("{name}@{digest}")).unwrap()
}
