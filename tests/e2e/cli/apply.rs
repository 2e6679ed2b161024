//! `connectors connector apply -f DIR` against a real node: the plan, what
//! it changes, KurrentDB-shaped files and renames, refusals, and rolling
//! secrets with `--resend-secrets`.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::{cli, console, hook, ids_on, write_json};
use crate::support::{event, eventually, NodeProcess, Receiver};

#[tokio::test]
async fn apply_makes_the_node_match_a_directory_and_a_second_run_does_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = NodeProcess::start(&dir.path().join("node")).await;
    let defs = dir.path().join("connectors");
    std::fs::create_dir_all(&defs).expect("defs dir");
    write_json(&defs.join("orders.json"), &console());
    write_json(&defs.join("hook.json"), &hook("v1"));
    let defs_arg = defs.display().to_string();
    let apply = |extra: &[&str]| {
        let mut args = vec!["connector", "apply", "-f", defs_arg.as_str()];
        args.extend_from_slice(extra);
        cli(&node, &args)
    };

    let plan = apply(&["--dry-run"]);
    assert!(
        plan.ok().contains("create    hook (hook.json)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("create    orders (orders.json)"),
        "{}",
        plan.stdout
    );
    assert!(ids_on(&node).await.is_empty(), "a dry run changes nothing");

    let first = apply(&[]);
    assert!(first.ok().contains("created   hook"), "{}", first.stdout);
    assert_eq!(ids_on(&node).await, vec!["hook", "orders"]);
    let (_, hook_on_node) = node.call(Method::GET, "/connectors/hook", None).await;
    assert_eq!(
        hook_on_node["enabled"], false,
        "the file's `enable` applies at creation"
    );

    let second = apply(&[]);
    assert!(
        second.ok().starts_with("nothing to do"),
        "{}",
        second.stdout
    );
    let second = apply(&["--output", "json"]).json();
    assert!(
        second["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .all(|c| c["action"] == "unchanged"),
        "{second}"
    );

    write_json(&defs.join("hook.json"), &hook("v2"));
    let plan = apply(&["--dry-run"]);
    let text = plan.ok();
    assert!(text.contains("update    hook (hook.json)"), "{text}");
    assert!(
        text.contains(r#"~ sink.url: "http://127.0.0.1:9/v1" -> "http://127.0.0.1:9/v2""#),
        "{text}"
    );
    assert!(text.contains("unchanged orders"), "{text}");
    assert!(
        !text.contains("do-not-print-me"),
        "a secret in a plan: {text}"
    );
    let (_, unchanged) = node.call(Method::GET, "/connectors/hook", None).await;
    assert_eq!(
        unchanged["definition"]["sink"]["url"],
        "http://127.0.0.1:9/v1"
    );

    let planned = apply(&["--dry-run", "--output", "json"]).json();
    assert_eq!(planned["dryRun"], true);
    let hook_step = &planned["changes"][0];
    assert_eq!(
        (&hook_step["id"], &hook_step["action"]),
        (&json!("hook"), &json!("update"))
    );
    assert_eq!(hook_step["settings"][0]["path"], "sink.url");

    let update = apply(&[]);
    assert!(
        update.ok().contains("updated   hook (hook.json)"),
        "{}",
        update.stdout
    );
    let (_, updated) = node.call(Method::GET, "/connectors/hook", None).await;
    assert_eq!(
        updated["definition"]["sink"]["url"],
        "http://127.0.0.1:9/v2"
    );
    assert!(apply(&[]).ok().starts_with("nothing to do"));

    // A new secret alone is not visible on the node; `--resend-secrets`
    // sends it.
    let mut rolled = hook("v2");
    rolled["sink"]["auth"]["token"] = json!("a-new-secret");
    write_json(&defs.join("hook.json"), &rolled);
    assert!(apply(&[]).ok().starts_with("nothing to do"));
    let resent = apply(&["--resend-secrets"]);
    assert!(resent.ok().contains("updated   hook"), "{}", resent.stdout);
    assert!(
        resent.stdout.contains("unchanged orders"),
        "{}",
        resent.stdout
    );

    std::fs::remove_file(defs.join("orders.json")).expect("remove a file");
    let kept = apply(&[]);
    assert!(kept.ok().contains("kept      orders"), "{}", kept.stdout);
    assert_eq!(
        ids_on(&node).await,
        vec!["hook", "orders"],
        "no delete without --prune"
    );
    let plan = apply(&["--prune", "--dry-run"]);
    assert!(plan.ok().contains("delete    orders"), "{}", plan.stdout);
    assert_eq!(ids_on(&node).await, vec!["hook", "orders"]);
    let pruned = apply(&["--prune"]);
    assert!(
        pruned.ok().contains("deleted   orders"),
        "{}",
        pruned.stdout
    );
    assert_eq!(ids_on(&node).await, vec!["hook"]);
}

#[tokio::test]
async fn apply_reads_kurrentdb_shaped_files_and_renames_without_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = NodeProcess::start(&dir.path().join("node")).await;
    let defs = dir.path().join("connectors");
    std::fs::create_dir_all(&defs).expect("defs dir");
    let kurrentdb = |name: &str| {
        json!({
            "name": name,
            "settings": {
                "instanceTypeName": "serilog-sink",
                "subscription:filter:scope": "stream",
                "subscription:filter:filterType": "prefix",
                "subscription:filter:expression": "cli-"
            }
        })
    };
    write_json(&defs.join("audit.json"), &kurrentdb("Audit trail"));
    let defs_arg = defs.display().to_string();
    let apply = || cli(&node, &["connector", "apply", "-f", defs_arg.as_str()]);

    let first = apply();
    assert!(first.ok().contains("created   audit"), "{}", first.stdout);
    let (_, created) = node.call(Method::GET, "/connectors/audit", None).await;
    assert_eq!(created["name"], "Audit trail");
    assert_eq!(
        created["definition"]["filter"]["streams"]["prefixes"],
        json!(["cli-"])
    );
    assert!(apply().ok().starts_with("nothing to do"));
    let started = node.status("audit").await["run"]["startedAt"].clone();
    assert!(started.is_string(), "it runs: {created}");

    write_json(
        &defs.join("audit.json"),
        &kurrentdb("Audit of the CLI streams"),
    );
    let plan = cli(
        &node,
        &["connector", "apply", "-f", defs_arg.as_str(), "--dry-run"],
    );
    assert!(
        plan.ok()
            .contains(r#"~ name: "Audit trail" -> "Audit of the CLI streams""#),
        "{}",
        plan.stdout
    );
    let renamed = apply();
    assert!(
        renamed.ok().contains("updated   audit"),
        "{}",
        renamed.stdout
    );
    let (_, after) = node.call(Method::GET, "/connectors/audit", None).await;
    assert_eq!(after["name"], "Audit of the CLI streams");
    assert_eq!(
        after["status"]["run"]["startedAt"], started,
        "a rename alone does not restart the connector"
    );
    let shown = cli(&node, &["connector", "get", "audit"]);
    assert!(
        shown.ok().contains("Audit of the CLI streams"),
        "{}",
        shown.stdout
    );
    assert!(apply().ok().starts_with("nothing to do"));
}

#[tokio::test]
async fn apply_stops_at_the_first_refused_definition_with_the_api_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = NodeProcess::start(&dir.path().join("node")).await;
    let defs = dir.path().join("connectors");
    std::fs::create_dir_all(&defs).expect("defs dir");
    write_json(&defs.join("a-first.json"), &console());
    write_json(
        &defs.join("b-typo.json"),
        &json!({"sinc": {"type": "console"}}),
    );
    write_json(&defs.join("c-last.json"), &console());

    let run = cli(
        &node,
        &["connector", "apply", "-f", &defs.display().to_string()],
    );
    let stderr = run.failed();
    assert!(
        stderr.starts_with("error: b-typo.json: 400 Bad Request: at `sinc`: unknown field `sinc`"),
        "{stderr}"
    );
    assert!(run.stdout.contains("created   a-first"), "{}", run.stdout);
    assert_eq!(
        ids_on(&node).await,
        vec!["a-first"],
        "nothing after the refused file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_secrets_rolls_a_secret_the_node_cannot_show() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = NodeProcess::start(&dir.path().join("node")).await;
    let receiver = Receiver::start().await;
    let defs = dir.path().join("connectors");
    std::fs::create_dir_all(&defs).expect("defs dir");
    let definition = |token: &str| {
        json!({
            "sink": {"type": "http", "url": format!("{}/hook", receiver.url),
                     "auth": {"type": "bearer", "token": token}},
            "filter": {"streams": {"prefixes": ["cli-"]}},
        })
    };
    let defs_arg = defs.display().to_string();
    let apply = |extra: &[&str]| {
        let mut args = vec!["connector", "apply", "-f", defs_arg.as_str()];
        args.extend_from_slice(extra);
        cli(&node, &args)
    };
    let bearer_arrives = |token: &'static str| {
        let receiver = receiver.clone();
        async move {
            eventually(Duration::from_secs(30), token, || {
                let receiver = receiver.clone();
                async move {
                    receiver
                        .accepted()
                        .iter()
                        .any(|r| r.header("authorization") == format!("Bearer {token}"))
                        .then_some(())
                }
            })
            .await
        }
    };

    write_json(&defs.join("hook.json"), &definition("first-secret"));
    apply(&[]).ok();
    node.append("cli-1", &[event("Tick", json!({}))]).await;
    bearer_arrives("first-secret").await;

    write_json(&defs.join("hook.json"), &definition("second-secret"));
    assert!(apply(&[]).ok().starts_with("nothing to do"));
    let resent = apply(&["--resend-secrets"]);
    assert!(resent.ok().contains("updated   hook"), "{}", resent.stdout);
    node.append("cli-1", &[event("Tick", json!({}))]).await;
    bearer_arrives("second-secret").await;
}
