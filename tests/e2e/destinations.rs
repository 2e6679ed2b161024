//! The destination policy: sinks cannot reach link-local addresses (cloud
//! metadata), the node's own listeners or `--sink-deny` ranges, whether the
//! address is written in the settings, resolved from a name, or given by a
//! redirect; `--sink-allow` opens a range again.

use std::time::Duration;

use axum::http::{header::LOCATION, StatusCode};
use serde_json::{json, Value};

use crate::support::{event, eventually, NodeProcess, Receiver};

fn http_sink(url: &str, prefix: &str) -> Value {
    json!({
        "sink": { "type": "http", "url": url },
        "filter": { "streams": { "prefixes": [prefix] } }
    })
}

/// A server on `127.0.0.2` that redirects every request to `location`.
async fn redirector(location: String, node: &NodeProcess) -> String {
    let app = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move { (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, location)]) }
    });
    // Not on the node's own port: the node refuses a loopback address with
    // its listener's port as itself, whichever loopback address it is.
    let node_port = node.base.rsplit(':').next().unwrap_or_default().to_owned();
    let listener = loop {
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0")
            .await
            .expect("bind 127.0.0.2");
        let port = listener.local_addr().expect("addr").port().to_string();
        if port != node_port {
            break listener;
        }
    };
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_literal_destinations_are_a_4xx_naming_the_setting_and_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;

    let (status, body) = node
        .post(
            "/connectors/metadata",
            &http_sink("http://169.254.169.254/latest/meta-data", "a-"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "destination-refused", "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("`sink.url`"), "{message}");
    assert!(message.contains("link-local"), "{message}");
    assert!(
        message.contains("--sink-allow 169.254.169.254/32"),
        "{message}"
    );

    // The node's own API, by its address and port.
    let own = node.base.clone();
    let (status, body) = node
        .post(
            "/connectors/loop",
            &http_sink(&format!("{own}/streams/x"), "a-"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("own listener"),
        "{body}"
    );

    // A custom sink's allow-list entry.
    let (status, body) = node
        .post(
            "/connectors/wasm-metadata",
            &json!({
                "sink": { "type": "wasm", "module": "webhook-hmac", "allowHosts": ["example.com", "169.254.169.254"] },
            }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("`sink.allowHosts[1]`"),
        "{body}"
    );

    // Reconfiguring a good connector towards metadata is refused too.
    let receiver = Receiver::start().await;
    node.create_connector("good", http_sink(&receiver.url, "a-"))
        .await;
    let (status, body) = node
        .call(
            reqwest::Method::PUT,
            "/connectors/good",
            Some(&http_sink("http://[fe80::1]:8080/x", "a-")),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("`sink.url`"),
        "{body}"
    );
    let (_, connectors) = node.get("/connectors").await;
    assert!(
        !connectors.to_string().contains("169.254.169.254"),
        "nothing refused was stored: {connectors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_resolving_to_denied_addresses_and_redirects_there_are_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start_with_args(
        dir.path(),
        &["--sink-deny".into(), "127.0.0.1/32,::1/128".into()],
    )
    .await;
    let target = Receiver::start().await;
    let port = target.url.rsplit(':').next().expect("port").to_owned();

    // An HTTP sink by name: `localhost` resolves only to denied addresses.
    node.create_connector(
        "by-name",
        http_sink(&format!("http://localhost:{port}/hook"), "named-"),
    )
    .await;
    node.append("named-1", &[event("Sent", json!({ "n": 1 }))])
        .await;
    let message = node.wait_fault_message("by-name").await;
    assert!(
        message.contains("`localhost` resolves to a refused address"),
        "{message}"
    );
    assert!(message.contains("--sink-deny"), "{message}");
    assert!(
        node.read_stream("$connectors/by-name/dead-letters")
            .await
            .is_empty(),
        "a refused destination faults the connector instead of dead-lettering"
    );

    // A custom sink posting to the same name faults the same way.
    node.upload_example("webhook-hmac").await;
    node.create_connector(
        "wasm-by-name",
        json!({
            "sink": {
                "type": "wasm",
                "module": "webhook-hmac",
                "config": { "url": format!("http://localhost:{port}/hook"), "secret": "s" },
                "allowHosts": [format!("localhost:{port}")]
            },
            "filter": { "streams": { "prefixes": ["named-"] } }
        }),
    )
    .await;
    let message = node.wait_fault_message("wasm-by-name").await;
    assert!(message.contains("refused"), "{message}");
    assert!(message.contains("localhost"), "{message}");

    // An allowed receiver redirecting to the denied one is not followed.
    let redirect = redirector(format!("{}/stolen", target.url), &node).await;
    node.create_connector("redirected", http_sink(&redirect, "moved-"))
        .await;
    node.append("moved-1", &[event("Sent", json!({ "n": 2 }))])
        .await;
    let letters = eventually(Duration::from_secs(30), "the dead letter", || async {
        let letters = node
            .read_stream("$connectors/redirected/dead-letters")
            .await;
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    assert!(
        letters[0].to_string().contains("307"),
        "the redirect is the answer: {}",
        letters[0]
    );
    assert_eq!(target.count(), 0, "nothing reached the denied receiver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_allow_lets_a_denied_range_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start_with_args(
        dir.path(),
        &[
            "--sink-deny".into(),
            "127.0.0.0/8".into(),
            "--sink-deny=::1/128".into(),
            "--sink-allow".into(),
            "127.0.0.1".into(),
        ],
    )
    .await;
    let receiver = Receiver::start().await;
    let port = receiver.url.rsplit(':').next().expect("port").to_owned();
    node.create_connector(
        "allowed",
        http_sink(&format!("http://localhost:{port}/hook"), "ok-"),
    )
    .await;
    node.append("ok-1", &[event("Sent", json!({ "n": 1 }))])
        .await;
    eventually(Duration::from_secs(30), "the delivery", || async {
        (receiver.count() == 1).then_some(())
    })
    .await;
    assert_eq!(receiver.numbers(), vec![1]);
    assert_eq!(node.status("allowed").await["state"], "running");
}
