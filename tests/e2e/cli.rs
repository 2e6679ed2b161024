//! The command line against a real node: the `connectors` binary run as a
//! client of another `connectors serve` process, as an operator runs it.
//! `connector apply` has its own file ([`apply`]).

use std::path::Path;
use std::process::Command;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{example, free_port, NodeProcess};

mod apply;

const ADMIN_TOKEN: &str = "cli-admin-0123456789abcdef";

/// How a run of the command line ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts it succeeded; its output.
    fn ok(&self) -> &str {
        assert_eq!(
            self.code,
            Some(0),
            "the command failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts it failed with exit code 1; its standard error.
    fn failed(&self) -> &str {
        assert_eq!(
            self.code,
            Some(1),
            "the command should fail\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        &self.stderr
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("`--output json` printed no JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `connectors ARGS` against `server`, with `env` and no other
/// `CONNECTORS_*` settings from the environment of the tests.
fn cli_with_env(server: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connectors"));
    command
        .args(args)
        .env("CONNECTORS_SERVER", server)
        .env_remove("CONNECTORS_TOKEN");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run the connectors binary");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn cli(node: &NodeProcess, args: &[&str]) -> Run {
    cli_with_env(&node.base, args, &[])
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).expect("json")).expect("write file");
}

fn console() -> Value {
    json!({"sink": {"type": "console"}, "filter": {"streams": {"prefixes": ["cli-"]}}})
}

fn hook(path: &str) -> Value {
    json!({
        "enable": false,
        "sink": {"type": "http", "url": format!("http://127.0.0.1:9/{path}"),
                 "auth": {"type": "bearer", "token": "do-not-print-me"}},
    })
}

/// The ids of the node's connectors, as the API lists them.
async fn ids_on(node: &NodeProcess) -> Vec<String> {
    let (status, list) = node.call(Method::GET, "/connectors", None).await;
    assert_eq!(status, 200, "{list}");
    let mut ids: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["id"].as_str().expect("an id").to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn connectors_are_created_inspected_switched_and_deleted_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = NodeProcess::start(&dir.path().join("node")).await;
    let file = dir.path().join("orders.json");
    write_json(&file, &console());

    let file_arg = file.display().to_string();
    let created = cli(&node, &["connector", "create", "-f", &file_arg]);
    assert!(
        created.ok().contains("created connector `orders`"),
        "{}",
        created.stdout
    );
    assert_eq!(ids_on(&node).await, vec!["orders"]);

    let listed = cli(&node, &["connector", "list"]);
    let table = listed.ok();
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|h| h.contains("ID") && h.contains("STATE")),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.trim_start().starts_with("orders")),
        "{table}"
    );

    let shown = cli(&node, &["connector", "get", "orders", "--output", "json"]).json();
    assert_eq!(shown["id"], "orders");
    assert_eq!(shown["definition"]["sink"]["type"], "console");

    let disabled = cli(
        &node,
        &["connector", "disable", "orders", "--output", "json"],
    )
    .json();
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["status"]["state"], "disabled");
    let enabled = cli(&node, &["connector", "enable", "orders"]);
    assert!(
        enabled
            .ok()
            .contains("enabled connector `orders` (enabled: true"),
        "{}",
        enabled.stdout
    );
    let reset = cli(&node, &["connector", "reset", "orders", "--to", "end"]);
    assert!(
        reset.ok().contains("reset connector `orders`"),
        "{}",
        reset.stdout
    );

    let listed = cli(&node, &["connector", "list", "--output", "json"]).json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    let deleted = cli(&node, &["connector", "delete", "orders"]);
    assert!(deleted.ok().contains("deleted connector `orders`"));
    assert!(ids_on(&node).await.is_empty());
}

#[tokio::test]
async fn modules_are_uploaded_listed_and_deleted_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = NodeProcess::start(&dir.path().join("node")).await;
    let wasm = example("filter-by-type").display().to_string();

    let put = cli(&node, &["module", "put", "filter-by-type", "-f", &wasm]);
    assert!(
        put.ok().contains("uploaded `filter-by-type`: sha256:"),
        "{}",
        put.stdout
    );
    let listed = cli(&node, &["module", "list"]);
    let row = listed
        .ok()
        .lines()
        .find(|l| l.trim_start().starts_with("filter-by-type"))
        .unwrap_or_else(|| panic!("no row for `filter-by-type`:\n{}", listed.stdout))
        .to_owned();
    assert!(row.contains("transform"), "{row}");
    let listed = cli(&node, &["module", "list", "--output", "json"]).json();
    assert_eq!(listed[0]["name"], "filter-by-type");

    // In use: the node refuses, and the command says why.
    let (status, _) = node
        .call(
            Method::POST,
            "/connectors/uses-filter",
            Some(&json!({"sink": {"type": "console"}, "transforms": [{"module": "filter-by-type", "config": {"types": ["Paid"]}}], "enable": false})),
        )
        .await;
    assert_eq!(status, 201);
    let refused = cli(&node, &["module", "delete", "filter-by-type"]);
    assert!(
        refused.failed().contains("error: 409 Conflict: "),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("uses-filter"), "{}", refused.stderr);

    cli(&node, &["connector", "delete", "uses-filter"]).ok();
    cli(&node, &["module", "delete", "filter-by-type"]).ok();
    let listed = cli(&node, &["module", "list", "--output", "json"]).json();
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn errors_give_the_api_message_or_say_the_node_cannot_be_reached() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = NodeProcess::start(&dir.path().join("node")).await;

    let missing = cli(&node, &["connector", "get", "nope"]);
    assert_eq!(
        missing.failed().trim(),
        "error: 404 Not Found: connector `nope` not found"
    );
    let bad_reset = cli(&node, &["connector", "reset", "nope", "--to", "start"]);
    assert!(
        bad_reset.failed().contains("404 Not Found"),
        "{}",
        bad_reset.stderr
    );

    let nobody = format!("http://127.0.0.1:{}", free_port());
    let unreachable = cli_with_env(&nobody, &["connector", "list"], &[]);
    assert!(
        unreachable
            .failed()
            .starts_with(&format!("error: cannot reach the node at {nobody}: ")),
        "{}",
        unreachable.stderr
    );
}

#[tokio::test]
async fn a_node_with_api_tokens_takes_the_token_from_the_environment_or_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let client = reqwest::Client::builder()
        .default_headers(crate::access_api::bearer_headers(ADMIN_TOKEN))
        .build()
        .expect("client");
    let node = NodeProcess::launch(
        &dir.path().join("node"),
        &format!("127.0.0.1:{port}"),
        &["--api-token".into(), ADMIN_TOKEN.into()],
        format!("http://127.0.0.1:{port}"),
        client,
    )
    .await;

    let without = cli(&node, &["members"]);
    assert!(
        without.failed().contains("error: 401 Unauthorized: "),
        "{}",
        without.stderr
    );

    let with_env = cli_with_env(
        &node.base,
        &["members", "--output", "json"],
        &[("CONNECTORS_TOKEN", ADMIN_TOKEN)],
    );
    let members = with_env.json();
    assert_eq!(members.as_array().map(Vec::len), Some(1), "{members}");

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).expect("write token file");
    let with_file = cli(
        &node,
        &["members", "--token-file", &token_file.display().to_string()],
    );
    assert!(with_file.ok().contains("leader"), "{}", with_file.stdout);
}

#[tokio::test]
async fn preview_and_dead_letters_print_what_the_api_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = NodeProcess::start(&dir.path().join("node")).await;
    let request = dir.path().join("preview.json");
    write_json(
        &request,
        &json!({
            "filter": {"streams": {"prefixes": ["orders-"]}},
            "events": [
                {"stream": "orders-1", "eventType": "OrderPlaced", "data": {"total": 1}},
                {"stream": "users-1", "eventType": "UserJoined", "data": {}}
            ]
        }),
    );
    let request_arg = request.display().to_string();
    let table = cli(&node, &["preview", "-f", &request_arg]);
    assert!(
        table
            .ok()
            .contains("delivered 1, dropped 1, dead-lettered 0"),
        "{}",
        table.stdout
    );
    let answer = cli(&node, &["preview", "-f", &request_arg, "--output", "json"]).json();
    assert_eq!(answer["summary"]["delivered"], 1);

    let file = dir.path().join("quiet.json");
    write_json(&file, &console());
    cli(
        &node,
        &["connector", "create", "-f", &file.display().to_string()],
    )
    .ok();
    let letters = cli(
        &node,
        &["dead-letters", "list", "quiet", "--output", "json"],
    )
    .json();
    assert_eq!(letters["deadLetters"], json!([]));
    let table = cli(&node, &["dead-letters", "list", "quiet"]);
    assert!(table.ok().contains("REASON"), "{}", table.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_its_own_ca_is_reached_over_https_with_ca_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = crate::access_tls::test_pki(dir.path());
    let (node, _grpc_port) = crate::access_tls::tls_node(dir.path(), &pki).await;
    // The admin token `tls_node` gives its node.
    let token = [("CONNECTORS_TOKEN", "tls-admin-0123456789abcdef")];
    assert!(node.base.starts_with("https://"), "{}", node.base);

    let untrusted = cli_with_env(&node.base, &["members"], &token);
    assert!(
        untrusted
            .failed()
            .starts_with(&format!("error: cannot reach the node at {}: ", node.base)),
        "{}",
        untrusted.stderr
    );
    let ca = pki.ca.display().to_string();
    let trusted = cli_with_env(&node.base, &["members", "--ca-file", &ca], &token);
    assert!(trusted.ok().contains("leader"), "{}", trusted.stdout);
}
