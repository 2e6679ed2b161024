//! Batch mode and CloudEvents.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use connectors::sinks::envelope::envelope;
use connectors::sinks::http::HttpBatchConfig;
use connectors::sinks::{DeliveryOutcome, Sink};
use connectors::store::ContentType;
use serde_json::{json, Value};

use super::support::*;

#[tokio::test]
async fn batch_mode_sends_an_array_of_envelopes() {
    let receiver = Receiver::start().await;
    let mut config = batch_config(receiver.url("/batch"));
    config.batch = Some(HttpBatchConfig {
        max_events: 3,
        max_bytes: 4096,
        linger_ms: 7,
    });
    let (mut sink, _) = sink(config);
    let limits = sink.batch_limits();
    assert_eq!((limits.max_events, limits.max_bytes), (3, 4096));
    assert_eq!(limits.linger, Duration::from_millis(7));

    let mut batch = events(3);
    batch[1].metadata = br#"{"user":"ann"}"#.to_vec().into();
    batch[2].content_type = ContentType::Binary;
    assert_eq!(
        sink.deliver(&batch).await.unwrap(),
        vec![DeliveryOutcome::Delivered; 3]
    );

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("content-type"), "application/json");
    assert_eq!(seen[0].header("esdb-batch-size"), "3");
    assert_eq!(seen[0].header("esdb-connector-id"), "orders-hook");
    assert!(seen[0].headers.get("esdb-record-id").is_none());
    let expected: Vec<Value> = batch.iter().map(envelope).collect();
    assert_eq!(seen[0].json(), Value::Array(expected));
    assert_eq!(seen[0].json()[1]["metadata"], json!({"user": "ann"}));
    assert!(seen[0].json()[2].get("dataBase64").is_some());
}

#[tokio::test]
async fn batch_with_a_bad_event_is_split_until_only_it_is_rejected() {
    let receiver = Receiver::start().await;
    let (mut sink, notices) = sink(batch_config(receiver.url("/batch")));
    let mut batch = events(7);
    batch[4].data = br#"{"note":"REJECT"}"#.to_vec().into();

    let outcomes = sink.deliver(&batch).await.unwrap();
    for (i, outcome) in outcomes.iter().enumerate() {
        if i == 4 {
            let rejection = rejection(outcome);
            assert_eq!(rejection.status, Some(400));
            assert!(rejection.response.as_deref().unwrap().contains("REJECT"));
        } else {
            assert_eq!(outcome, &DeliveryOutcome::Delivered, "event {i}");
        }
    }
    assert!(notices.lock().unwrap().is_empty());

    // The accepted requests carried every other event once, in order.
    let delivered: Vec<u64> = receiver
        .accepted()
        .iter()
        .flat_map(|s| {
            let batch = s.json();
            let size: usize = s.header("esdb-batch-size").parse().unwrap();
            assert_eq!(batch.as_array().unwrap().len(), size);
            batch
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["revision"].as_u64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(delivered, [0, 1, 2, 3, 5, 6]);
}

#[tokio::test]
async fn cloud_events_binary_mode() {
    let receiver = Receiver::start().await;
    let mut config = config(receiver.url("/ce"));
    config.cloud_events = true;
    let (mut sink, _) = sink(config);
    let mut one = event("orders-42", 3, "{\"a\":1}");
    one.metadata = br#"{"tenant":"acme"}"#.to_vec().into();
    sink.deliver(&[one]).await.unwrap();

    let seen = &receiver.seen()[0];
    assert_eq!(seen.body, b"{\"a\":1}");
    assert_eq!(seen.header("content-type"), "application/json");
    assert_eq!(seen.header("ce-specversion"), "1.0");
    assert_eq!(seen.header("ce-id"), "00000000-0000-0000-0000-0000000abc03");
    assert_eq!(seen.header("ce-source"), "kurrentdb:/streams/orders-42");
    assert_eq!(seen.header("ce-type"), "OrderPlaced");
    assert_eq!(seen.header("ce-subject"), "orders-42");
    assert_eq!(seen.header("ce-time"), "2024-05-01T12:00:00.003Z");
    assert_eq!(seen.header("ce-streamrevision"), "3");
    assert_eq!(seen.header("ce-logposition"), "1003");
    assert_eq!(seen.header("esdb-connector-id"), "orders-hook");
    assert_eq!(seen.header("esdb-record-headers-tenant"), "acme");
    assert!(seen.headers.get("esdb-record-id").is_none());
}

#[tokio::test]
async fn cloud_events_batch_mode() {
    let receiver = Receiver::start().await;
    let mut config = batch_config(receiver.url("/ce"));
    config.cloud_events = true;
    let (mut sink, _) = sink(config);
    let mut batch = events(2);
    batch[1].content_type = ContentType::Binary;
    batch[1].data = vec![1u8, 2].into();
    sink.deliver(&batch).await.unwrap();

    let seen = &receiver.seen()[0];
    assert_eq!(
        seen.header("content-type"),
        "application/cloudevents-batch+json"
    );
    assert_eq!(seen.header("esdb-batch-size"), "2");
    assert_eq!(
        seen.json(),
        json!([
            {
                "specversion": "1.0",
                "id": "00000000-0000-0000-0000-0000000abc00",
                "source": "kurrentdb:/streams/orders-42",
                "type": "OrderPlaced",
                "subject": "orders-42",
                "time": "2024-05-01T12:00:00.000Z",
                "datacontenttype": "application/json",
                "data": {"n": 0},
                "streamrevision": "0",
                "logposition": "1000",
            },
            {
                "specversion": "1.0",
                "id": "00000000-0000-0000-0000-0000000abc01",
                "source": "kurrentdb:/streams/orders-42",
                "type": "OrderPlaced",
                "subject": "orders-42",
                "time": "2024-05-01T12:00:00.001Z",
                "datacontenttype": "application/octet-stream",
                "data_base64": "AQI=",
                "streamrevision": "1",
                "logposition": "1001",
            },
        ])
    );
}
