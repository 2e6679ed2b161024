//! Per-event mode: one request per event, headers, URL templates, auth.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64::Engine as _;
use connectors::sinks::http::{HttpAuth, HttpMethod};
use connectors::sinks::{DeliveryOutcome, Sink};
use connectors::store::ContentType;

use super::support::*;

#[tokio::test]
async fn per_event_headers_and_body() {
    let receiver = Receiver::start().await;
    let mut config = config(receiver.url("/hook"));
    config.headers.insert("X-Source".into(), "tests".into());
    let (mut sink, _) = sink(config);

    let mut first = event("orders-42", 7, "{ \"total\": 12 }");
    first.metadata = br#"{"Tenant":"acme","priority":2,"bad key":"x"}"#.to_vec().into();
    let mut second = event("orders-42", 8, "");
    second.content_type = ContentType::Binary;
    second.data = vec![0u8, 1, 2, 255].into();
    second.event_type = "Blob".into();

    let outcomes = sink.deliver(&[first, second]).await.unwrap();
    assert_eq!(outcomes, vec![DeliveryOutcome::Delivered; 2]);

    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    let one = &seen[0];
    assert_eq!(one.method, "POST");
    assert_eq!(one.path, "/hook");
    assert_eq!(one.body, b"{ \"total\": 12 }");
    assert_eq!(one.header("content-type"), "application/json");
    assert_eq!(
        one.header("esdb-record-id"),
        "00000000-0000-0000-0000-0000000abc07"
    );
    assert_eq!(one.header("esdb-record-stream-id"), "orders-42");
    assert_eq!(one.header("esdb-record-stream-revision"), "7");
    assert_eq!(one.header("esdb-record-log-position"), "1007");
    assert_eq!(
        one.header("esdb-record-timestamp"),
        "2024-05-01T12:00:00.007Z"
    );
    assert_eq!(one.header("esdb-record-schema-subject"), "OrderPlaced");
    assert_eq!(one.header("esdb-connector-id"), "orders-hook");
    assert_eq!(one.header("esdb-record-headers-tenant"), "acme");
    assert_eq!(one.header("esdb-record-headers-priority"), "2");
    assert_eq!(one.header("x-source"), "tests");
    assert!(one.headers.get("authorization").is_none());
    assert!(one.headers.get("esdb-batch-size").is_none());
    let metadata_headers = one
        .headers
        .keys()
        .filter(|k| k.as_str().starts_with("esdb-record-headers-"))
        .count();
    assert_eq!(metadata_headers, 2);

    let two = &seen[1];
    assert_eq!(two.body, [0, 1, 2, 255]);
    assert_eq!(two.header("content-type"), "application/octet-stream");
    assert_eq!(two.header("esdb-record-schema-subject"), "Blob");
    assert_eq!(two.header("esdb-record-stream-revision"), "8");
}

#[tokio::test]
async fn url_templates_are_filled_per_event() {
    let receiver = Receiver::start().await;
    let url = receiver.url("/c/{category}/s/{stream}?type={eventType}");
    let (mut sink, _) = sink(config(url));
    let mut odd = event("in voices/é-1", 1, "{}");
    odd.event_type = "A&B".into();
    let batch = [event("orders-42", 0, "{}"), odd];
    assert_eq!(
        sink.deliver(&batch).await.unwrap(),
        vec![DeliveryOutcome::Delivered; 2]
    );
    let paths: Vec<String> = receiver.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        [
            "/c/orders/s/orders-42?type=OrderPlaced",
            "/c/in%20voices%2F%C3%A9/s/in%20voices%2F%C3%A9-1?type=A%26B",
        ]
    );
}

#[tokio::test]
async fn method_and_auth_headers() {
    let receiver = Receiver::start().await;
    let mut basic = config(receiver.url("/basic"));
    basic.method = HttpMethod::Put;
    basic.auth = Some(HttpAuth::Basic {
        username: "ingest".into(),
        password: "s3cret".into(),
    });
    let mut bearer = config(receiver.url("/bearer"));
    bearer.method = HttpMethod::Patch;
    bearer.auth = Some(HttpAuth::Bearer {
        token: "tok-123".into(),
    });
    sink(basic).0.deliver(&events(1)).await.unwrap();
    sink(bearer).0.deliver(&events(1)).await.unwrap();
    let seen = receiver.seen();
    let expected = base64::engine::general_purpose::STANDARD.encode("ingest:s3cret");
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(seen[0].header("authorization"), format!("Basic {expected}"));
    assert_eq!(seen[1].method, "PATCH");
    assert_eq!(seen[1].header("authorization"), "Bearer tok-123");
}

#[tokio::test]
async fn per_event_batch_limits() {
    let (sink, _) = sink(config("http://127.0.0.1:9/x".into()));
    let limits = sink.batch_limits();
    assert_eq!(limits.max_events, 32);
    assert_eq!(limits.linger, Duration::ZERO);
}
