//! The official KurrentDB Python client (`kurrentdbclient`, driven by
//! `tests/clients/python/client.py`) against `serve --grpc-listen`: appends
//! through both of its paths with every kind of expected version, reads,
//! `$all` with its default and other filters, subscriptions, metadata,
//! delete and tombstone, multi-stream appends, gossip, connection strings
//! and the services the node does not have; then a connector delivers the
//! events the client wrote. With `--grpc-credentials`, the client's
//! credentials work over TLS and never leave it over `tls=false`.
//!
//! Needs `python3` (3.10 or later) with the `venv` module; the client and
//! its pinned dependencies (`requirements.txt`) are installed from PyPI
//! into `target/python-client/venv` once, and again only when the
//! requirements change.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::access_tls::{test_pki, tls_node};
use crate::support::{
    assert_orders_reach_a_connector, event, grpc_node, passed_checks, run_script, Receiver,
};

/// Every check `client.py check` runs, in order.
const CHECKS: &[&str] = &[
    "append-event-no-stream",
    "append-event-exact-version",
    "append-event-stream-exists",
    "append-event-any",
    "append-event-wrong-expected-version",
    "append-list-no-stream",
    "append-list-exact-version",
    "append-list-stream-exists",
    "append-list-any",
    "append-list-wrong-expected-version",
    "append-event-idempotent",
    "append-list-idempotent",
    "multi-append-streams",
    "multi-append-wrong-expected-version",
    "read-stream-forwards",
    "read-stream-backwards",
    "read-missing-stream",
    "read-all-default-filter",
    "read-all-no-filter",
    "read-all-stream-prefix-filter",
    "read-all-event-type-filter",
    "read-all-regex-filter",
    "read-all-lookaround-filter",
    "get-commit-position",
    "subscribe-all-default-filter",
    "subscribe-all-stream-prefix-filter",
    "subscribe-all-event-type-filter",
    "subscribe-all-regex-filter",
    "subscribe-all-lookaround-filter",
    "subscribe-all-checkpoints-without-matches",
    "subscribe-all-from-position",
    "subscribe-all-caught-up",
    "subscribe-all-caught-up-without-matches",
    "subscribe-stream",
    "subscribe-stream-live",
    "stream-metadata-max-count",
    "stream-metadata-max-age",
    "delete-stream",
    "tombstone-stream",
    "tombstone-then-append-list",
    "read-gossip",
    "connection-strings",
    "persistent-subscriptions-absent",
    "persistent-subscription-read-absent",
    "projections-absent",
    "summary",
];

/// The checks of `client.py auth` over TLS, in order.
const AUTH_TLS_CHECKS: &[&str] = &[
    "auth-read-with-credentials",
    "auth-read-all-with-credentials",
    "auth-missing-stream-with-credentials",
    "auth-append-with-credentials",
    "auth-subscribe-with-credentials",
    "auth-tls-client-needs-credentials",
    "auth-read-wrong-password",
    "auth-append-wrong-password",
    "summary",
];

/// The checks of `client.py auth` over `tls=false`, in order.
const AUTH_CLEARTEXT_CHECKS: &[&str] = &[
    "auth-cleartext-credentials-not-sent",
    "auth-cleartext-call-credentials-refused-by-grpc",
    "auth-cleartext-read-without-credentials",
    "summary",
];

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/python")
}

/// `target/python-client/venv`, beside the binary under test.
fn venv_dir() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_connectors"));
    let target = binary
        .parent()
        .and_then(Path::parent)
        .expect("the binary sits in target/<profile>/");
    target.join("python-client/venv")
}

fn run(command: &mut Command, what: &str) -> Result<Output, String> {
    let output = command
        .output()
        .map_err(|e| format!("{what}: cannot start it ({e})"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Creates the venv with the pinned client once per test run (tests here
/// run in parallel and share it), reusing it while `requirements.txt` is
/// unchanged; returns its `python`.
fn python_client() -> &'static Path {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        let requirements = client_dir().join("requirements.txt");
        let wanted = std::fs::read_to_string(&requirements)
            .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
        let venv = venv_dir();
        let python = venv.join("bin/python");
        let stamp = venv.join("installed-requirements.txt");
        if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
            return Ok(python);
        }
        run(
            Command::new("python3").arg("--version"),
            "`python3 --version` (Python 3.10 or later is needed for the official KurrentDB Python client tests)",
        )?;
        run(
            Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv),
            "`python3 -m venv` (install the venv module, e.g. the python3-venv package)",
        )?;
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet", "-r"])
                .arg(&requirements),
            "`pip install -r tests/clients/python/requirements.txt` (is PyPI reachable?)",
        )?;
        std::fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
        Ok(python)
    });
    match installed {
        Ok(python) => python,
        Err(message) => panic!("{message}"),
    }
}

/// Runs `python client.py <args>` to the end (the script bounds its own
/// run time, so it cannot hang the test).
async fn run_client(args: Vec<String>) -> Output {
    let python = python_client().to_owned();
    run_script(
        python,
        "client.py",
        client_dir(),
        &[
            ("CLIENT_RUN_TIMEOUT_S", "240"),
            ("PYTHONDONTWRITEBYTECODE", "1"),
        ],
        args,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_works_and_its_events_reach_a_connector() {
    python_client();
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, connection) = grpc_node(dir.path(), &[]).await;
    let receiver = Receiver::start().await;

    let token = "e2e";
    let output = run_client(vec!["check".into(), connection, token.into()]).await;
    let lines = passed_checks(&output, CHECKS, &node);

    let summary = lines.last().expect("summary line");
    let stream = format!("py-orders-{token}");
    assert_eq!(summary["stream"], stream.as_str());
    let orders = summary["orders"].as_array().expect("orders in the summary");
    assert_eq!(orders.len(), 4, "the client leaves 4 orders: {summary}");
    assert_eq!(
        node.read_stream(&stream).await.len(),
        orders.len(),
        "events of {stream} over HTTP"
    );

    assert_orders_reach_a_connector(
        &node,
        &receiver,
        "py-orders-hook",
        "py-orders-",
        &stream,
        orders,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_credentials_work_over_tls_only() {
    python_client();
    let stream = "py-auth-orders";
    let events: Vec<Value> = (0..3)
        .map(|n| event("OrderPlaced", json!({ "n": n })))
        .collect();

    // Over TLS the client sends the connection string's credentials.
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = test_pki(dir.path());
    let (node, grpc_port) = tls_node(dir.path(), &pki).await;
    node.append(stream, &events).await;
    let connection = format!(
        "kurrentdb://localhost:{grpc_port}?tls=true&tlsCaFile={}",
        pki.ca.display()
    );
    let output = run_client(vec![
        "auth".into(),
        connection,
        "admin:changeit".into(),
        stream.into(),
        events.len().to_string(),
    ])
    .await;
    passed_checks(&output, AUTH_TLS_CHECKS, &node);
    let stored = node.read_stream(stream).await;
    assert_eq!(
        stored.len(),
        events.len() + 1,
        "the append with credentials, and only it, was written"
    );

    // Over tls=false they never leave the client, so every call is refused.
    let cleartext_dir = tempfile::tempdir().expect("tempdir");
    let (cleartext, connection) = grpc_node(
        cleartext_dir.path(),
        &["--grpc-credentials", "admin:changeit"],
    )
    .await;
    cleartext.append(stream, &events).await;
    let output = run_client(vec![
        "auth".into(),
        connection,
        "admin:changeit".into(),
        stream.into(),
        events.len().to_string(),
    ])
    .await;
    passed_checks(&output, AUTH_CLEARTEXT_CHECKS, &cleartext);
    assert_eq!(cleartext.read_stream(stream).await.len(), events.len());
}
