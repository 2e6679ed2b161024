//! A new user's first hour: dead letters read back over the API, page by
//! page, and none of a deleted connector's in a new one of the same id; the
//! demo's data kept apart from `serve`'s; `--version`; an address in use.
//!
//! Error texts are fixtures in `tests/e2e/fixtures/first_hour/`, one JSON
//! file per case, input beside answer:
//! - `{"args": [...], "exitCode": 1, "stderr": "..."}` runs the binary with
//!   `args` (plus `--data <temp dir>`) and compares the last line it
//!   printed; `{busy}` is an address something already listens on, `{free}`
//!   one nobody does;
//! - `{"request": "GET /path", "status": 400, "error": "..."}` sends the
//!   request to a node that has a connector `hook` and compares the
//!   answer's `message`.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{event, eventually, free_port, NodeProcess, Receiver};

/// Reads every dead letter of `id`, `limit` at a time; returns the pages.
async fn dead_letter_pages(node: &NodeProcess, id: &str, limit: usize) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut from = 0;
    loop {
        let (status, body) = node
            .get(&format!(
                "/connectors/{id}/dead-letters?from={from}&limit={limit}"
            ))
            .await;
        assert_eq!(status, 200, "dead letters of {id}: {body}");
        pages.push(body["deadLetters"].as_array().expect("deadLetters").clone());
        match body["nextFrom"].as_u64() {
            Some(next) => from = next,
            None => return pages,
        }
        assert!(pages.len() < 100, "the pages never end: {pages:?}");
    }
}

/// A connector that posts to `receiver`, which refuses everything with a 400.
async fn refusing_connector(node: &NodeProcess, id: &str, receiver: &Receiver, start: &str) {
    node.create_connector(
        id,
        json!({ "sink": { "type": "http", "url": receiver.url }, "start": start }),
    )
    .await;
}

async fn wait_dead_lettered(node: &NodeProcess, id: &str, n: u64) {
    eventually(
        Duration::from_secs(30),
        &format!("{n} dead letters"),
        || async { (node.status(id).await["deadLettered"] == n).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_read_back_page_by_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    receiver.fail_all(Some(400));
    let events: Vec<_> = (0..5)
        .map(|n| event("InvoiceIssued", json!({ "n": n })))
        .collect();
    node.append("invoices-7", &events).await;
    refusing_connector(&node, "invoices", &receiver, "start").await;
    wait_dead_lettered(&node, "invoices", 5).await;

    let pages = dead_letter_pages(&node, "invoices", 2).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1], "{pages:?}");
    let letters: Vec<&Value> = pages.iter().flatten().collect();
    let log = node.read_stream("$all").await;
    for (n, (letter, sent)) in letters.iter().zip(&events).enumerate() {
        assert_eq!(letter["stage"], "sink", "{letter}");
        assert_eq!(letter["status"], 400, "{letter}");
        let reason = letter["reason"].as_str().expect("reason");
        assert!(reason.contains("400"), "{letter}");
        assert!(letter["deadLetteredAt"].is_string(), "{letter}");
        let original = &letter["event"];
        assert_eq!(original["id"], sent["eventId"], "{letter}");
        assert_eq!(original["stream"], "invoices-7");
        assert_eq!(original["revision"], n as u64);
        assert_eq!(original["type"], "InvoiceIssued");
        assert_eq!(original["data"], json!({ "n": n }));
        let recorded = log
            .iter()
            .find(|e| e["eventId"] == sent["eventId"] || e["id"] == sent["eventId"])
            .unwrap_or_else(|| panic!("event {n} in $all"));
        assert_eq!(original["position"], recorded["position"], "{recorded}");
    }

    // A page from the middle, by the cursor of the one before.
    let (_, first) = node.get("/connectors/invoices/dead-letters?limit=3").await;
    let next = first["nextFrom"].as_u64().expect("nextFrom");
    let (_, rest) = node
        .get(&format!("/connectors/invoices/dead-letters?from={next}"))
        .await;
    let rest = rest["deadLetters"].as_array().expect("deadLetters").clone();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0]["event"]["data"], json!({ "n": 3 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_created_again_does_not_inherit_the_old_dead_letters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = Receiver::start().await;
    receiver.fail_all(Some(400));
    let old: Vec<_> = (0..3)
        .map(|n| event("Refunded", json!({ "old": n })))
        .collect();
    node.append("refunds-1", &old).await;
    refusing_connector(&node, "refunds", &receiver, "start").await;
    wait_dead_lettered(&node, "refunds", 3).await;

    let (status, body) = node
        .call(reqwest::Method::DELETE, "/connectors/refunds", None)
        .await;
    assert_eq!(status, 204, "{body}");
    refusing_connector(&node, "refunds", &receiver, "end").await;
    let pages = dead_letter_pages(&node, "refunds", 10).await;
    assert_eq!(pages, vec![Vec::<Value>::new()], "none of the old letters");
    assert_eq!(node.status("refunds").await["deadLettered"], 0);

    // The new connector's own refusals are there, alone.
    node.append("refunds-1", &[event("Refunded", json!({ "new": 1 }))])
        .await;
    wait_dead_lettered(&node, "refunds", 1).await;
    let letters: Vec<Value> = dead_letter_pages(&node, "refunds", 10).await.concat();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["event"]["data"], json!({ "new": 1 }));
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with `args` in `cwd` (no `CONNECTORS_*` settings from
/// the environment), logging to `cwd/<log>`.
fn spawn(cwd: &Path, args: &[&str], log: &str) -> Running {
    let log = std::fs::File::create(cwd.join(log)).expect("log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_connectors"));
    command
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log);
    for (name, _) in std::env::vars() {
        if name.starts_with("CONNECTORS_") {
            command.env_remove(name);
        }
    }
    Running(command.spawn().expect("start the connectors binary"))
}

async fn answer(url: &str) -> Option<Value> {
    let response = reqwest::get(url).await.ok()?;
    response.status().is_success().then_some(())?;
    response.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_keeps_its_data_apart_from_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("http://{listen}");
    let demo = spawn(
        cwd,
        &["demo", "--listen", &listen, "--interval-ms", "50"],
        "demo.log",
    );
    eventually(Duration::from_secs(60), "the demo connector", || async {
        answer(&format!("{base}/connectors/demo-console")).await
    })
    .await;
    drop(demo);
    assert!(cwd.join("demo-data/events.db").exists());
    assert!(!cwd.join("data").exists(), "the demo wrote to ./data");
    let log = std::fs::read_to_string(cwd.join("demo.log")).expect("demo log");
    assert!(log.contains("demo-data"), "the demo says where: {log}");

    let _serve = spawn(cwd, &["serve", "--listen", &listen], "serve.log");
    let connectors = eventually(Duration::from_secs(60), "the node", || async {
        answer(&format!("{base}/connectors")).await
    })
    .await;
    assert_eq!(connectors, json!([]), "the demo connector carried over");
    assert!(cwd.join("data/events.db").exists());
}

/// Runs the binary to its end (at most a minute) in `cwd`.
fn run_to_exit(cwd: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connectors"));
    command
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start the connectors binary");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn version_names_the_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = run_to_exit(dir.path(), &["--version"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("connectors {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// The fixtures of this file, by name.
fn fixtures() -> Vec<(String, Value)> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/fixtures/first_hour");
    let mut cases: Vec<(String, Value)> = std::fs::read_dir(&folder)
        .expect("fixtures folder")
        .map(|entry| {
            let path = entry.expect("fixture").path();
            let text = std::fs::read_to_string(&path).expect("fixture text");
            let case: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.display().to_string(), case)
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(cases.len() >= 2, "no fixtures in {}", folder.display());
    cases
}

/// Runs one command-line fixture; returns what went wrong, if anything.
fn run_cli_case(case: &Value) -> Option<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = busy.local_addr().expect("addr").to_string();
    let free = format!("127.0.0.1:{}", free_port());
    let fill = |text: &str| text.replace("{busy}", &busy).replace("{free}", &free);
    let data = dir.path().join("data").display().to_string();
    let mut args: Vec<String> = case["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| fill(a.as_str().expect("arg")))
        .collect();
    args.extend(["--data".to_owned(), data]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_to_exit(dir.path(), &args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    let expected = fill(case["stderr"].as_str().expect("stderr"));
    let code = output.status.code().map(i64::from);
    if code != case["exitCode"].as_i64() || last != Some(expected.as_str()) {
        return Some(format!(
            "exit code {code:?}, last line {last:?}\n  expected {} and {expected:?}",
            case["exitCode"]
        ));
    }
    stderr
        .contains("node started")
        .then(|| format!("said `node started` before failing:\n{stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_hour_fixtures_give_their_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    node.create_connector("hook", json!({ "sink": { "type": "console" } }))
        .await;
    let mut failures = Vec::new();
    for (name, case) in fixtures() {
        let failure = if case.get("args").is_some() {
            run_cli_case(&case)
        } else {
            let request = case["request"].as_str().expect("request");
            let (method, path) = request.split_once(' ').expect("`METHOD /path`");
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let (status, body) = node.call(method, path, None).await;
            let matches = i64::from(status) == case["status"].as_i64().unwrap_or(-1)
                && body["message"] == case["error"];
            (!matches).then(|| format!("answered {status} {body}"))
        };
        if let Some(failure) = failure {
            failures.push(format!("{name}: {failure}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
