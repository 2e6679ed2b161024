//! Access to the HTTP API: tokens and roles, content types, the `Host`
//! check of loopback listeners, cross-origin requests, and the refusal to
//! listen on a network address without authentication.

use std::process::{Command, Stdio};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{example, free_port, NodeProcess};

const ADMIN_TOKEN: &str = "admin-0123456789abcdef";
const READ_TOKEN: &str = "read-0123456789abcdef";

/// `Authorization: Bearer <token>`.
pub fn bearer_headers(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("header value");
    headers.insert(AUTHORIZATION, value);
    headers
}

/// A client that sends `token` on every request.
fn client_with_token(token: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(bearer_headers(token))
        .build()
        .expect("client")
}

/// A node with an admin and a read token from a tokens file; its own client
/// uses the admin token.
async fn node_with_tokens(dir: &std::path::Path) -> NodeProcess {
    let file = dir.join("tokens");
    std::fs::write(
        &file,
        format!("# who may use the API\n\nadmin:{ADMIN_TOKEN}\nread:{READ_TOKEN}\n"),
    )
    .expect("write tokens file");
    let port = free_port();
    NodeProcess::launch(
        &dir.join("node"),
        &format!("127.0.0.1:{port}"),
        &["--api-tokens-file".into(), file.display().to_string()],
        format!("http://127.0.0.1:{port}"),
        client_with_token(ADMIN_TOKEN),
    )
    .await
}

/// Sends `request`; its status, headers and JSON body.
async fn send(request: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
    json_of(request.send().await.expect("send")).await
}

async fn json_of(response: reqwest::Response) -> (u16, HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_guard_every_route_but_health_and_read_tokens_only_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = node_with_tokens(dir.path()).await;
    let anonymous = reqwest::Client::new();

    let (status, headers, body) = send(anonymous.get(node.url("/connectors"))).await;
    assert_eq!(status, 401, "{body}");
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    assert_eq!(body["code"], "unauthorized");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer <token>"),
        "{body}"
    );

    let wrong = client_with_token("not-the-token-0123456789");
    let (status, headers, body) = send(wrong.get(node.url("/connectors"))).await;
    assert_eq!(status, 401, "{body}");
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));

    // Unknown paths do not tell a stranger what exists.
    let response = anonymous
        .get(node.url("/nothing-here"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 401);

    let (status, _, body) = send(anonymous.get(node.url("/health"))).await;
    assert_eq!((status, body), (200, json!({ "status": "ok" })));

    let reader = client_with_token(READ_TOKEN);
    let (status, _, body) = send(reader.get(node.url("/connectors"))).await;
    assert_eq!(status, 200, "{body}");
    let create = json!({ "sink": { "type": "console" } });
    let (status, _, body) = send(
        reader
            .post(node.url("/connectors/by-reader"))
            .header("content-type", "application/json")
            .body(create.to_string()),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "forbidden");
    assert!(
        body["message"].as_str().unwrap().contains("`read`"),
        "{body}"
    );

    // The admin token does everything; the reader sees the result.
    node.create_connector("by-admin", create).await;
    let (status, _, body) = send(reader.get(node.url("/connectors/by-admin"))).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = node.get("/connectors/by-reader").await;
    assert_eq!(status, 404, "the refused request created nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_a_web_page_could_send_are_refused_by_content_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let definition = json!({ "sink": { "type": "console" } }).to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let (status, body) = node
            .call_typed(
                Method::POST,
                "/connectors/sneaky",
                content_type,
                definition.clone().into_bytes(),
            )
            .await;
        assert_eq!(status, 415, "{content_type}: {body}");
        assert_eq!(body["code"], "unsupported-media-type");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{body}"
        );
    }
    let (status, _) = node.get("/connectors/sneaky").await;
    assert_eq!(status, 404, "nothing was created");
    let (status, body) = node
        .call_typed(
            Method::POST,
            "/connectors/ok",
            "application/json; charset=utf-8",
            definition.into_bytes(),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let module = std::fs::read(example("filter-by-type")).expect("guest-examples/dist is built");
    let (status, body) = node
        .call_typed(
            Method::PUT,
            "/modules/m",
            "application/x-www-form-urlencoded",
            module.clone(),
        )
        .await;
    assert_eq!(status, 415, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("application/wasm"),
        "{body}"
    );
    let (status, body) = node
        .call_typed(Method::PUT, "/modules/m", "application/wasm", module)
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_node_refuses_foreign_hosts_and_cross_origin_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let port = node.base.rsplit(':').next().expect("port").to_owned();
    let client = reqwest::Client::new();
    for host in ["evil.example", &format!("evil.example:{port}"), "10.0.0.7"] {
        let response = client
            .get(node.url("/connectors"))
            .header("host", host)
            .send()
            .await
            .expect("send");
        let (status, _, body) = json_of(response).await;
        assert_eq!(status, 421, "{host}: {body}");
        assert_eq!(body["code"], "misdirected-request");
        assert!(body["message"].as_str().unwrap().contains(host), "{body}");
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("app.localhost:{port}"),
    ] {
        let response = client
            .get(node.url("/connectors"))
            .header("host", &host)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200, "{host}");
    }

    let created = node
        .create_connector("keep", json!({ "sink": { "type": "console" } }))
        .await;
    let response = client
        .post(node.url("/connectors/keep/disable"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("send");
    let (status, _, body) = json_of(response).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "cross-origin-request");
    let (status, body) = node.get("/connectors/keep").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], true, "the refused disable changed nothing");
    assert_eq!(
        body["revision"], created["revision"],
        "no command was appended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_a_network_address_without_a_token_unless_insecure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let output = Command::new(env!("CARGO_BIN_EXE_connectors"))
        .args(["serve", "--data"])
        .arg(dir.path().join("refused"))
        .args(["--listen", &format!("0.0.0.0:{port}")])
        .stdin(Stdio::null())
        .output()
        .expect("run the binary");
    assert!(!output.status.success(), "the node started");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--insecure") && stderr.contains("--api-token"),
        "{stderr}"
    );

    let grpc_port = free_port();
    let output = Command::new(env!("CARGO_BIN_EXE_connectors"))
        .args(["serve", "--data"])
        .arg(dir.path().join("refused-grpc"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--grpc-listen", &format!("0.0.0.0:{grpc_port}")])
        .stdin(Stdio::null())
        .output()
        .expect("run the binary");
    assert!(!output.status.success(), "the node started");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--grpc-credentials"), "{stderr}");

    let node = NodeProcess::launch(
        &dir.path().join("insecure"),
        &format!("0.0.0.0:{port}"),
        &["--insecure".into()],
        format!("http://127.0.0.1:{port}"),
        reqwest::Client::new(),
    )
    .await;
    assert!(node.log().contains("INSECURE MODE"), "{}", node.log());
    // Not a loopback listener: any host may be used to reach it.
    let response = node
        .client
        .get(node.url("/connectors"))
        .header("host", "connectors.internal")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
}
