//! The management API of a node started as a library, called in process
//! (its router, without a socket): the same validation and answers as over
//! HTTP, so a refused request comes back with the API's own message.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use connectors::node::Node;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A node's API.
#[derive(Clone)]
pub struct Api {
    router: Router,
}

/// A request the API did not accept: its status and the error body's
/// `message` (or the whole body when it has none).
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl Api {
    pub fn of(node: &Node) -> Api {
        Api {
            router: node.router(),
        }
    }

    /// `POST /connectors/{id}` with `definition` (enabled unless it says
    /// `"enable": false`).
    pub async fn create_connector(&self, id: &str, definition: &Value) -> Result<Value, Refusal> {
        let body = serde_json::to_vec(definition).expect("a JSON definition");
        self.send(
            Method::POST,
            &format!("/connectors/{id}"),
            body,
            "application/json",
        )
        .await
    }

    /// `DELETE /connectors/{id}`.
    pub async fn delete_connector(&self, id: &str) -> Result<Value, Refusal> {
        self.send(
            Method::DELETE,
            &format!("/connectors/{id}"),
            Vec::new(),
            "application/json",
        )
        .await
    }

    /// `PUT /modules/{name}` with the component's bytes.
    pub async fn upload_module(&self, name: &str, component: Vec<u8>) -> Result<Value, Refusal> {
        self.send(
            Method::PUT,
            &format!("/modules/{name}"),
            component,
            "application/wasm",
        )
        .await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Value, Refusal> {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(Body::from(body))
            .expect("a request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router always answers");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("the answer's body")
            .to_bytes();
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        let message = match answer.get("message").and_then(Value::as_str) {
            Some(message) => message.to_owned(),
            None => String::from_utf8_lossy(&bytes).into_owned(),
        };
        Err(Refusal { status, message })
    }
}
