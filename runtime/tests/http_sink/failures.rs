//! Retries, refusals and stopping at the first refused event.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use connectors::sinks::http::{HttpSink, HttpSinkConfig};
use connectors::sinks::{DeliveryOutcome, Sink};
use serde_json::Value;

use super::support::*;

#[tokio::test]
async fn unavailable_is_retried_and_delivered_once_in_order() {
    let receiver = Receiver::start().await;
    receiver.fail(|b| &b.unavailable, 2);
    let (mut sink, notices) = sink(config(receiver.url("/hook")));
    let outcomes = sink.deliver(&events(3)).await.unwrap();
    assert_eq!(outcomes, vec![DeliveryOutcome::Delivered; 3]);

    let notices = notices.lock().unwrap().clone();
    assert_eq!(
        notices.iter().map(|n| n.attempt).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(
        notices[0].error.contains("HTTP 503 Service Unavailable"),
        "{}",
        notices[0].error
    );
    assert!(
        notices[0].error.contains("down for maintenance"),
        "{}",
        notices[0].error
    );
    assert!(notices.iter().all(|n| n.wait <= Duration::from_millis(10)));

    let seen = receiver.seen();
    assert_eq!(seen.len(), 5);
    let bodies: Vec<String> = receiver
        .accepted()
        .iter()
        .map(|s| String::from_utf8(s.body.clone()).unwrap())
        .collect();
    assert_eq!(bodies, [r#"{"n":0}"#, r#"{"n":1}"#, r#"{"n":2}"#]);
}

#[tokio::test]
async fn a_refused_event_is_rejected_and_the_others_delivered() {
    let receiver = Receiver::start().await;
    let (mut sink, notices) = sink(config(receiver.url("/hook")));
    let mut batch = events(3);
    batch[1].data = br#"{"x":"REJECT"}"#.to_vec().into();
    let outcomes = sink.deliver(&batch).await.unwrap();
    assert_eq!(outcomes[0], DeliveryOutcome::Delivered);
    assert_eq!(outcomes[2], DeliveryOutcome::Delivered);
    let rejection = rejection(&outcomes[1]);
    assert_eq!(rejection.status, Some(400));
    assert_eq!(
        rejection.response.as_deref(),
        Some("refused: the event holds REJECT")
    );
    assert!(
        rejection.reason.starts_with(&format!(
            "HTTP 400 Bad Request from POST {}",
            receiver.url("/hook")
        )),
        "{}",
        rejection.reason
    );
    assert!(notices.lock().unwrap().is_empty());
    assert_eq!(receiver.seen().len(), 3);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let receiver = Receiver::start().await;
    let (mut sink, _) = sink(config(receiver.url("/redirect")));
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    assert_eq!(rejection(&outcomes[0]).status, Some(302));
    assert_eq!(receiver.seen().len(), 1);
}

#[tokio::test]
async fn exhausted_attempts_reject_with_the_last_error() {
    let receiver = Receiver::start().await;
    receiver.fail(|b| &b.unavailable, 100);
    let mut per_event = config(receiver.url("/hook"));
    per_event.retry.max_attempts = Some(3);
    let (mut sink, notices) = sink(per_event);
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    let rejection = rejection(&outcomes[0]);
    assert_eq!(rejection.status, Some(503));
    assert!(
        rejection
            .reason
            .starts_with("gave up after 3 attempts: HTTP 503"),
        "{}",
        rejection.reason
    );
    assert_eq!(rejection.response.as_deref(), Some("down for maintenance"));
    assert_eq!(receiver.seen().len(), 3);
    assert_eq!(notices.lock().unwrap().len(), 2);

    // In batch mode the whole batch is rejected, without splitting.
    let mut batched = batch_config(receiver.url("/batch"));
    batched.retry.max_attempts = Some(2);
    let (mut sink, _) = self::sink(batched);
    let outcomes = sink.deliver(&events(4)).await.unwrap();
    assert!(outcomes.iter().all(|o| rejection_status(o) == Some(503)));
    assert_eq!(receiver.seen().len(), 5);
}

fn rejection_status(outcome: &DeliveryOutcome) -> Option<u16> {
    rejection(outcome).status
}

#[tokio::test]
async fn connection_refused_is_retried() {
    // A port nobody listens on (yet).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{address}/x");

    let mut limited = config(url.clone());
    limited.retry.max_attempts = Some(3);
    let (mut sink, notices) = sink(limited);
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    let rejection = rejection(&outcomes[0]);
    assert_eq!(rejection.status, None);
    assert!(
        rejection
            .reason
            .starts_with(&format!("gave up after 3 attempts: POST {url} failed: ")),
        "{}",
        rejection.reason
    );
    assert!(
        rejection.reason.to_lowercase().contains("connect"),
        "{}",
        rejection.reason
    );
    assert_eq!(notices.lock().unwrap().len(), 2);

    // Without a limit the sink keeps trying until the receiver is up.
    let (mut sink, notices) = self::sink(config(url));
    let starter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        Receiver::serve(listener)
    });
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    assert_eq!(outcomes, [DeliveryOutcome::Delivered]);
    assert!(!notices.lock().unwrap().is_empty());
    assert_eq!(starter.await.unwrap().accepted().len(), 1);
}

#[tokio::test]
async fn timeouts_are_retried() {
    let receiver = Receiver::start().await;
    receiver.fail(|b| &b.slow, 1);
    let mut config = config(receiver.url("/hook"));
    config.timeout_ms = 200;
    let (mut sink, notices) = sink(config);
    let started = Instant::now();
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    assert_eq!(outcomes, [DeliveryOutcome::Delivered]);
    assert!(started.elapsed() < Duration::from_secs(2));
    let notices = notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].error.contains("timed out after 200 ms"),
        "{}",
        notices[0].error
    );
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let receiver = Receiver::start().await;
    receiver.fail(|b| &b.too_many, 1);
    let (mut sink, notices) = sink(config(receiver.url("/hook")));
    let started = Instant::now();
    let outcomes = sink.deliver(&events(1)).await.unwrap();
    assert_eq!(outcomes, [DeliveryOutcome::Delivered]);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let notices = notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].wait, Duration::from_secs(1));
    assert!(
        notices[0].error.contains("HTTP 429"),
        "{}",
        notices[0].error
    );
}

fn stopping_sink(config: HttpSinkConfig) -> HttpSink {
    let (mut ctx, _) = context();
    ctx.stop_at_first_rejection = true;
    HttpSink::new(config, ctx).unwrap()
}

#[tokio::test]
async fn stop_at_first_rejection_sends_nothing_after_it() {
    let receiver = Receiver::start().await;
    let mut sink = stopping_sink(config(receiver.url("/hook")));
    let mut batch = events(4);
    batch[1].data = br#"{"x":"REJECT"}"#.to_vec().into();
    let outcomes = sink.deliver(&batch).await.unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(outcomes[0], DeliveryOutcome::Delivered);
    assert_eq!(rejection(&outcomes[1]).status, Some(400));
    assert_eq!(
        receiver.seen().len(),
        2,
        "events after the refused one are not sent"
    );

    let receiver = Receiver::start().await;
    let mut sink = stopping_sink(batch_config(receiver.url("/hook")));
    let mut batch = events(8);
    batch[5].data = br#"{"x":"REJECT"}"#.to_vec().into();
    let outcomes = sink.deliver(&batch).await.unwrap();
    assert_eq!(outcomes.len(), 6, "{outcomes:?}");
    assert!(outcomes[..5]
        .iter()
        .all(|o| *o == DeliveryOutcome::Delivered));
    assert_eq!(rejection(&outcomes[5]).status, Some(400));
    let delivered: Vec<u64> = receiver
        .seen()
        .iter()
        .filter(|s| s.status == 200)
        .flat_map(|s| serde_json::from_slice::<Vec<Value>>(&s.body).unwrap())
        .map(|e| e["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(
        delivered,
        vec![0, 1, 2, 3, 4],
        "only the events before the refused one"
    );
}
