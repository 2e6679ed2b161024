//! Error texts as fixtures: every file in `tests/e2e/fixtures/errors/` is
//! one case, a request and the answer it must get, run against one real
//! node. A file holds:
//!
//! ```json
//! {
//!   "about": "what the user got wrong (or right)",
//!   "modules": ["redact"],
//!   "request": { "method": "POST", "path": "/connectors/c", "body": { ... } },
//!   "status": 400,
//!   "code": "invalid-body",
//!   "error": "the exact message"
//! }
//! ```
//!
//! `modules` (optional) are example components uploaded first. Instead of
//! `body` (sent as JSON), a request may give `rawBody` (a string sent as it
//! is) and `contentType` (default `application/json`). `code` and `error`
//! are left out for cases that must succeed. Add a case by adding a file.

use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::Value;

use crate::support::NodeProcess;

fn fixture_files() -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/fixtures/errors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("read {}: {e}", folder.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// Runs one case; `Err` says how the answer differs from the fixture.
async fn run_case(node: &NodeProcess, case: &Value) -> Result<(), String> {
    for module in case["modules"].as_array().into_iter().flatten() {
        node.upload_example(module.as_str().expect("module names are strings"))
            .await;
    }
    let request = &case["request"];
    let method: Method = request["method"]
        .as_str()
        .expect("request.method")
        .parse()
        .expect("an HTTP method");
    let path = request["path"].as_str().expect("request.path");
    let body = match (&request["rawBody"], &request["body"]) {
        (Value::String(raw), _) => raw.clone().into_bytes(),
        (_, body) => serde_json::to_vec(body).expect("serialize body"),
    };
    let content_type = request["contentType"]
        .as_str()
        .unwrap_or("application/json");
    let (status, answer) = node.call_typed(method, path, content_type, body).await;

    let mut differences = Vec::new();
    if Some(u64::from(status)) != case["status"].as_u64() {
        differences.push(format!("status {status}, expected {}", case["status"]));
    }
    for field in ["code", "error"] {
        let expected = &case[field];
        let got = &answer[if field == "error" { "message" } else { field }];
        if !expected.is_null() && got != expected {
            differences.push(format!(
                "{field}:\n      got      {got}\n      expected {expected}"
            ));
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(differences.join("\n    "))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_fixture_gets_its_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let files = fixture_files();
    assert!(!files.is_empty(), "no fixtures found");
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read fixture");
        let case: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
        if let Err(difference) = run_case(&node, &case).await {
            let name = file.file_name().expect("file name").to_string_lossy();
            failures.push(format!("{name}:\n    {difference}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures got another answer:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
