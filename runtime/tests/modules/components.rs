//! Real components: stored, listed, resolved, repaired, and kept across restarts.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use axum::http::{Method, StatusCode};
use connectors::modules::{
    chunk_stream, digest_of, ModuleError, ModuleRef, CHUNK_BYTES, CHUNK_EVENT, INDEX_STREAM,
    UPLOADED_EVENT,
};
use connectors::store::{
    AllStart, ContentType, Direction, ExpectedRevision, NewEvent, StreamStart,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::support::*;

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
    // The same version, not compiled again: no compile time.
    assert!(
        body["compileMs"].is_u64(),
        "the first upload compiled: {body}"
    );
    assert!(again.get("compileMs").is_none(), "{again}");
    let mut first = body.clone();
    first
        .as_object_mut()
        .expect("an object")
        .remove("compileMs");
    assert_eq!(again, first);
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
        data: data.to_vec().into(),
        metadata: Default::default(),
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
