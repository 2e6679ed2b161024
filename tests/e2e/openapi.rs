//! `GET /openapi.json`: public, an OpenAPI 3.1 document whose references
//! all resolve, and in step with the router: every documented operation is
//! served, every other method on a documented path is not, and every route
//! the API is known to serve is documented. The bodies of connectors'
//! statuses, dead letters, replays, members and previews are described
//! field by field, as the real node answers them.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{event, eventually, free_port, NodeProcess};

const API_TOKEN: &str = "openapi-test-token-1f9e4c";

/// The routes the API serves, as `METHOD path`.
const KNOWN_ROUTES: [&str; 28] = [
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
    "POST /connectors/{id}/reset/{position}",
    "POST /connectors/{id}/start",
    "POST /connectors/{id}/start/{position}",
    "POST /connectors/{id}/stop",
    "PUT /connectors/{id}/rename",
    "GET /connectors/{id}/settings",
    "PUT /connectors/{id}/settings",
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
        .replace("{position}", "1")
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

/// `schema` with its `$ref` followed, and with `null` taken out of a
/// nullable `oneOf` (what an `Option` becomes).
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {reference}"));
        return resolve(document, &document["components"]["schemas"][name]);
    }
    if let Some(branches) = schema["oneOf"].as_array() {
        let others: Vec<&Value> = branches.iter().filter(|b| b["type"] != "null").collect();
        if let [only] = others.as_slice() {
            return resolve(document, only);
        }
    }
    schema
}

/// The properties of an object schema (its `allOf` parts and the branches
/// of its `oneOf` merged) and which of them are required.
fn fields<'a>(
    document: &'a Value,
    schema: &'a Value,
) -> (Vec<(&'a str, &'a Value)>, BTreeSet<&'a str>) {
    let schema = resolve(document, schema);
    let mut properties = Vec::new();
    let mut required = BTreeSet::new();
    if let Some(own) = schema["properties"].as_object() {
        properties.extend(own.iter().map(|(name, s)| (name.as_str(), s)));
    }
    if let Some(names) = schema["required"].as_array() {
        required.extend(names.iter().filter_map(Value::as_str));
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let (more, also_required) = fields(document, part);
        properties.extend(more);
        required.extend(also_required);
    }
    for branch in schema["oneOf"].as_array().into_iter().flatten() {
        // A branch's required fields are required of that branch only.
        properties.extend(fields(document, branch).0);
    }
    (properties, required)
}

/// The schema of property `name` of `schema`.
fn property<'a>(document: &'a Value, schema: &'a Value, name: &str) -> &'a Value {
    let (properties, _) = fields(document, schema);
    let found = properties
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no property `{name}` in {schema}"));
    resolve(document, found.1)
}

/// The schema of the items of array schema `schema`.
fn items<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    let schema = resolve(document, schema);
    assert_eq!(schema["type"], "array", "{schema}");
    resolve(document, &schema["items"])
}

/// The schema of the JSON answer `status` of `method path`.
fn answer_schema<'a>(document: &'a Value, method: &str, path: &str, status: &str) -> &'a Value {
    let schema = &document["paths"][path][method]["responses"][status]["content"]
        ["application/json"]["schema"];
    assert!(!schema.is_null(), "{method} {path} {status} has no schema");
    resolve(document, schema)
}

/// Asserts that `schema` describes `answer` (`what`, for messages): every
/// key of the answer is a documented property and every required property
/// is in the answer.
fn assert_describes(document: &Value, schema: &Value, answer: &Value, what: &str) {
    let keys: BTreeSet<&str> = answer
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {answer}"))
        .keys()
        .map(String::as_str)
        .collect();
    let (properties, required) = fields(document, schema);
    let documented: BTreeSet<&str> = properties.iter().map(|(name, _)| *name).collect();
    let undocumented: Vec<&&str> = keys.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "{what}: the answer has fields the document does not describe: {undocumented:?} \
         (documented: {documented:?})"
    );
    let missing: Vec<&&str> = required.difference(&keys).collect();
    assert!(
        missing.is_empty(),
        "{what}: the document requires fields the answer lacks: {missing:?} ({answer})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_bodies_list_the_fields_the_api_answers_with() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(&dir.path().join("node")).await;
    let (code, document) = node.get("/openapi.json").await;
    assert_eq!(code, 200, "{document}");
    let doc = &document;

    // A connector that ran, refused an event and replayed it.
    let _receiver = crate::replay::dead_lettered_hook(&node, 1).await;
    let (code, replay) = node
        .post("/connectors/hook/dead-letters/replay", &json!({}))
        .await;
    assert_eq!(code, 200, "{replay}");
    let replayed = answer_schema(doc, "post", "/connectors/{id}/dead-letters/replay", "200");
    assert_describes(doc, replayed, &replay, "a replay");
    let result = items(doc, property(doc, replayed, "results"));
    assert_describes(doc, result, &replay["results"][0], "a replay's result");
    let shown = property(doc, result, "event");
    assert_describes(
        doc,
        shown,
        &replay["results"][0]["event"],
        "a replayed event",
    );
    let summary = property(doc, replayed, "summary");
    assert_describes(doc, summary, &replay["summary"], "a replay's summary");

    // Its dead letter, with the event and the last replay.
    let (code, page) = node.get("/connectors/hook/dead-letters").await;
    assert_eq!(code, 200, "{page}");
    let listed = answer_schema(doc, "get", "/connectors/{id}/dead-letters", "200");
    assert_describes(doc, listed, &page, "a page of dead letters");
    let letter_schema = items(doc, property(doc, listed, "deadLetters"));
    let letter = &page["deadLetters"][0];
    assert!(
        letter["status"].is_u64() && letter["replayed"].is_object(),
        "{letter}"
    );
    assert_describes(doc, letter_schema, letter, "a dead letter");
    let envelope = property(doc, letter_schema, "event");
    assert_describes(doc, envelope, &letter["event"], "a dead letter's event");
    let last_replay = property(doc, letter_schema, "replayed");
    assert_describes(
        doc,
        last_replay,
        &letter["replayed"],
        "a letter's last replay",
    );

    // Its status: the live part, the run, the last error.
    let (code, connector) = node.get("/connectors/hook").await;
    assert_eq!(code, 200, "{connector}");
    let view = answer_schema(doc, "get", "/connectors/{id}", "200");
    assert_describes(doc, view, &connector, "a connector");
    let status_schema = property(doc, view, "status");
    let status = &connector["status"];
    assert!(status["run"].is_object(), "{status}");
    assert_describes(doc, status_schema, status, "a connector's status");
    let run = property(doc, status_schema, "run");
    assert_describes(doc, run, &status["run"], "a status's run");

    // A status with stages and an error: a transform in front of a
    // destination nobody listens on.
    node.upload_example("redact").await;
    node.append("staged-1", &[event("Numbered", json!({ "n": 1 }))])
        .await;
    node.create_connector(
        "staged",
        json!({
            "sink": { "type": "http", "url": format!("http://127.0.0.1:{}", free_port()) },
            "filter": { "streams": { "prefixes": ["staged-"] } },
            "transforms": [{ "module": "redact", "config": { "remove": ["card"] } }]
        }),
    )
    .await;
    let status = eventually(
        Duration::from_secs(60),
        "the failing delivery to show in the status",
        || async {
            let status = node.status("staged").await;
            (status["lastError"].is_object() && status["stages"].is_array()).then_some(status)
        },
    )
    .await;
    assert_describes(doc, status_schema, &status, "a failing connector's status");
    let last_error = property(doc, status_schema, "lastError");
    assert_describes(
        doc,
        last_error,
        &status["lastError"],
        "a status's last error",
    );
    let stage = items(doc, property(doc, status_schema, "stages"));
    assert_describes(doc, stage, &status["stages"][0], "a status's stage");

    // The members.
    let (code, members) = node.get("/members").await;
    assert_eq!(code, 200, "{members}");
    let member = items(doc, answer_schema(doc, "get", "/members", "200"));
    assert_describes(doc, member, &members[0], "a member");

    // A preview: its events and the records the sink would receive.
    let (code, preview) = node
        .post(
            "/preview",
            &json!({ "events": [
                { "eventType": "OrderPlaced", "data": { "n": 1 }, "metadata": { "user": "ann" } }
            ] }),
        )
        .await;
    assert_eq!(code, 200, "{preview}");
    let previewed = answer_schema(doc, "post", "/preview", "200");
    assert_describes(doc, previewed, &preview, "a preview");
    let outcome = items(doc, property(doc, previewed, "results"));
    let first = &preview["results"][0];
    assert_describes(doc, outcome, first, "a preview's result");
    assert_describes(
        doc,
        property(doc, outcome, "event"),
        &first["event"],
        "a previewed event",
    );
    let record = items(doc, property(doc, outcome, "records"));
    assert_describes(doc, record, &first["records"][0], "a previewed record");

    // A preview's filter has the fields of a connector's filter, as a
    // definition with every one of them set shows it.
    let filter = json!({
        "streams": { "prefixes": ["orders-"] },
        "eventTypes": { "regex": "^Order" },
        "jsonPath": "$[?(@.n > 0)]",
        "jsonPathOn": "record",
        "includeSystemEvents": true
    });
    node.create_connector(
        "filtered",
        json!({ "sink": { "type": "console" }, "filter": filter, "enable": false }),
    )
    .await;
    let (code, filtered) = node.get("/connectors/filtered").await;
    assert_eq!(code, 200, "{filtered}");
    let shown_filter = &filtered["definition"]["filter"];
    let request = &document["paths"]["/preview"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    let filter_schema = property(doc, resolve(doc, request), "filter");
    let (properties, _) = fields(doc, filter_schema);
    let documented: BTreeSet<&str> = properties.iter().map(|(name, _)| *name).collect();
    let keys: BTreeSet<&str> = shown_filter
        .as_object()
        .expect("a filter")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        documented, keys,
        "a preview's filter (left), a definition's (right)"
    );
    for (field, matcher) in [("streams", "prefixes"), ("eventTypes", "regex")] {
        let schema = property(doc, filter_schema, field);
        assert_describes(doc, schema, &shown_filter[field], field);
        assert!(fields(doc, schema)
            .0
            .iter()
            .any(|(name, _)| *name == matcher));
    }
}
