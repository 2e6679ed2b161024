//! `GET /openapi.json`: public, an OpenAPI 3.1 document whose references
//! all resolve, and in step with the router: every documented operation is
//! served, every other method on a documented path is not, and every route
//! the API is known to serve is documented.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::support::NodeProcess;

const API_TOKEN: &str = "openapi-test-token-1f9e4c";

/// The routes the API serves, as `METHOD path`.
const KNOWN_ROUTES: [&str; 21] = [
    "GET /health",
    "GET /openapi.json",
    "GET /members",
    "GET /metrics",
    "GET /connectors",
    "GET /connectors/{id}",
    "POST /connectors/{id}",
    "PUT /connectors/{id}",
    "DELETE /connectors/{id}",
    "POST /connectors/{id}/enable",
    "POST /connectors/{id}/disable",
    "POST /connectors/{id}/reset",
    "GET /connectors/{id}/dead-letters",
    "POST /connectors/{id}/dead-letters/replay",
    "POST /preview",
    "GET /streams/{stream}",
    "POST /streams/{stream}",
    "GET /modules",
    "GET /modules/{name}",
    "PUT /modules/{name}",
    "DELETE /modules/{name}",
];

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// `METHOD path` of every operation in `document`.
fn operations(document: &Value) -> BTreeSet<String> {
    let paths = document["paths"].as_object().expect("`paths` is an object");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect()
}

/// Every `$ref` under `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => found.push(r.clone()),
                    _ => references(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

/// The structure OpenAPI 3.1 asks for, as far as this API uses it.
fn assert_valid_document(document: &Value) {
    let version = document["openapi"].as_str().expect("`openapi` version");
    assert!(version.starts_with("3.1."), "version {version}");
    assert!(document["info"]["title"].is_string(), "info.title");
    assert!(document["info"]["version"].is_string(), "info.version");
    let schemas = &document["components"]["schemas"];
    let mut operation_ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        assert!(path.starts_with('/'), "path {path}");
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                operation_ids.insert(id.to_owned()),
                "operationId {id} twice"
            );
            let responses = operation["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            for (status, response) in responses {
                assert!(
                    status.len() == 3 && status.chars().all(|c| c.is_ascii_digit()),
                    "{method} {path}: status {status}"
                );
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {status}"
                );
            }
            let placeholders = path.matches('{').count();
            let path_params = operation["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").count())
                .unwrap_or(0);
            assert_eq!(
                placeholders, path_params,
                "{method} {path}: path parameters"
            );
            if method != "get" && path != "/openapi.json" && path != "/health" {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents no 401"
                );
            }
        }
    }
    let mut refs = Vec::new();
    references(document, &mut refs);
    assert!(!refs.is_empty(), "the document references its schemas");
    for reference in refs {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {reference}"));
        assert!(schemas.get(name).is_some(), "{reference} does not resolve");
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(document["security"][0]["bearer"], Value::Array(vec![]));
}

/// `path` with every `{parameter}` filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "openapi-probe")
        .replace("{stream}", "openapi-probe")
        .replace("{name}", "openapi-probe")
}

/// Whether the router answered `status` and `body` from a route (a
/// handler's own 404 counts; the fallback's "no such endpoint" does not).
fn served(status: u16, body: &str) -> bool {
    status != 405 && !(status == 404 && body.contains("no such endpoint"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route_and_only_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start_with_token(&dir.path().join("node"), API_TOKEN).await;

    // Public: read without a token.
    let response = reqwest::get(node.url("/openapi.json"))
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .is_ok_and(|t| t.starts_with("application/json")));
    let document: Value = response.json().await.expect("JSON document");
    assert_valid_document(&document);

    // Known routes are documented, and nothing else is.
    let documented = operations(&document);
    let known: BTreeSet<String> = KNOWN_ROUTES.iter().map(|r| (*r).to_owned()).collect();
    assert_eq!(
        documented, known,
        "documented (left) and served (right) routes differ"
    );

    // Every documented operation is served; every other method on a
    // documented path is not.
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            let http_method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let response = node
                .client
                .request(http_method, node.url(&concrete(path)))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            if item.get(method).is_some() {
                assert!(
                    served(status, &body),
                    "{method} {path} is documented but not served: {status} {body}"
                );
            } else {
                assert_eq!(
                    status, 405,
                    "{method} {path} is served but not documented: {body}"
                );
            }
        }
    }
}
