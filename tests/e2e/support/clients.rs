//! What the official-client tests share: a node serving the gRPC protocol,
//! the check lines a client script prints, and the proof that the events a
//! client wrote reach a connector.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{json, Value};

use super::{eventually, free_port, NodeProcess, Receiver};

/// A node serving the gRPC protocol on a free loopback port, with `extra`
/// arguments; returns it and a cleartext connection string for it.
pub async fn grpc_node(dir: &Path, extra: &[&str]) -> (NodeProcess, String) {
    let grpc_port = free_port();
    let mut args = vec!["--grpc-listen".to_owned(), format!("127.0.0.1:{grpc_port}")];
    args.extend(extra.iter().map(|a| a.to_string()));
    let node = NodeProcess::start_with_args(dir, &args).await;
    (node, format!("kurrentdb://127.0.0.1:{grpc_port}?tls=false"))
}

/// Runs `program script args...` in `dir` with `env` to the end, off the
/// async runtime (the client scripts bound their own run time, so it cannot
/// hang the test).
pub async fn run_script(
    program: impl Into<std::ffi::OsString>,
    script: &'static str,
    dir: std::path::PathBuf,
    env: &'static [(&'static str, &'static str)],
    args: Vec<String>,
) -> Output {
    let program = program.into();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program)
            .arg(script)
            .args(&args)
            .current_dir(&dir)
            .envs(env.iter().copied())
            .output()
            .unwrap_or_else(|e| panic!("run {} {script}: {e}", program.to_string_lossy()))
    })
    .await
    .expect("join the client")
}

/// The JSON lines the client printed, failing with everything it and the
/// node said unless it exited 0 and every check in `expected` passed.
pub fn passed_checks(output: &Output, expected: &[&str], node: &NodeProcess) -> Vec<Value> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let explain = || {
        format!(
            "client exit status: {}\nclient stdout:\n{stdout}\nclient stderr:\n{stderr}\nnode log (tail):\n{}",
            output.status,
            tail(&node.log(), 60)
        )
    };
    assert!(
        output.status.success(),
        "the official client failed\n{}",
        explain()
    );
    let lines: Vec<Value> = stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("a client line is not JSON ({e}): {line}\n{}", explain())
            })
        })
        .collect();
    let names: Vec<&str> = lines
        .iter()
        .map(|line| line["check"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, expected, "checks run\n{}", explain());
    for line in &lines {
        assert_eq!(line["ok"], true, "check failed: {line}\n{}", explain());
    }
    lines
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Creates connector `name`, an HTTP sink to `receiver` for streams starting
/// with `prefix`, and checks that exactly `orders` (the events a client
/// wrote to `stream`: `id`, `revision`, `type`, `data`) arrive, in order,
/// with their headers and bodies.
pub async fn assert_orders_reach_a_connector(
    node: &NodeProcess,
    receiver: &Receiver,
    name: &str,
    prefix: &str,
    stream: &str,
    orders: &[Value],
) {
    node.create_connector(
        name,
        json!({
            "sink": { "type": "http", "url": format!("{}/hook", receiver.url) },
            "filter": { "streams": { "prefixes": [prefix] } }
        }),
    )
    .await;
    eventually(
        Duration::from_secs(60),
        "the client's orders at the receiver",
        || async { (receiver.count() >= orders.len()).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // nothing else arrives
    let got = receiver.accepted();
    assert_eq!(
        got.len(),
        orders.len(),
        "exactly the client's orders arrive"
    );
    let mut last_position = 0;
    for (received, sent) in got.iter().zip(orders) {
        assert_eq!(received.path, "/hook");
        assert_eq!(received.header("esdb-record-stream-id"), stream);
        assert_eq!(
            received.header("esdb-record-id"),
            sent["id"].as_str().expect("id")
        );
        assert_eq!(
            received.header("esdb-record-stream-revision"),
            sent["revision"].to_string()
        );
        assert_eq!(
            received.header("esdb-record-schema-subject"),
            sent["type"].as_str().expect("type")
        );
        let position = received.position();
        assert!(position > last_position, "positions grow");
        last_position = position;
        let body: Value = serde_json::from_slice(&received.body).expect("JSON body");
        assert_eq!(body, sent["data"], "body of revision {}", sent["revision"]);
    }
    let status = node.status(name).await;
    assert_eq!(status["delivered"], orders.len());
}
