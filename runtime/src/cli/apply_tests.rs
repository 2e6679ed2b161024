//! The plan of `apply`: which connectors are created, updated, left alone
//! or deleted, and the settings an update changes.

use std::path::PathBuf;

use serde_json::json;

use super::*;
use crate::connector::ConnectorId;

fn file(id: &str, definition: Value) -> DefinitionFile {
    let Value::Object(definition) = definition else {
        panic!("a definition is an object");
    };
    DefinitionFile {
        path: PathBuf::from(format!("defs/{id}.json")),
        id: ConnectorId::parse(id).expect("valid id"),
        enable: None,
        name: None,
        definition,
    }
}

/// A connector as `GET /connectors` shows `definition`: defaults filled in,
/// secrets masked.
fn on_node(id: &str, definition: Value) -> NodeConnector {
    let definition: ConnectorDefinition = serde_json::from_value(definition).expect("definition");
    NodeConnector {
        id: id.to_owned(),
        name: None,
        definition: Some(masked(&definition)),
    }
}

fn hook(url: &str, token: &str) -> Value {
    json!({"sink": {"type": "http", "url": url, "auth": {"type": "bearer", "token": token}}})
}

fn actions(plan: &Plan) -> Vec<(String, &'static str)> {
    plan.steps
        .iter()
        .map(|s| (s.id().to_owned(), s.action()))
        .collect()
}

#[test]
fn missing_connectors_are_created_and_equal_ones_left_alone() {
    let console = json!({"sink": {"type": "console"}});
    let files = vec![file("a", console.clone()), file("b", console.clone())];
    let node = vec![on_node("b", console)];
    let plan = plan(files, &node, PlanOptions::default());
    assert_eq!(
        actions(&plan),
        vec![("a".into(), "create"), ("b".into(), "unchanged")]
    );
    assert!(!plan.is_empty());
}

#[test]
fn defaults_the_node_fills_in_do_not_count_as_changes() {
    let short = json!({"sink": {"type": "console"}});
    let spelled_out = json!({"sink": {"type": "console"}, "start": "start", "filter": {}});
    let plan = plan(
        vec![file("a", short)],
        &[on_node("a", spelled_out)],
        PlanOptions::default(),
    );
    assert!(plan.is_empty(), "{}", describe(&plan));
}

#[test]
fn a_changed_setting_is_an_update_listing_it() {
    let plan = plan(
        vec![file("a", hook("http://127.0.0.1:9000/new", "t0ken"))],
        &[on_node("a", hook("http://127.0.0.1:9000/old", "t0ken"))],
        PlanOptions::default(),
    );
    let Step::Update { changes, .. } = &plan.steps[0] else {
        panic!("expected an update: {}", describe(&plan));
    };
    assert_eq!(
        changes,
        &vec![SettingChange {
            path: "sink.url".into(),
            before: Some(json!("http://127.0.0.1:9000/old")),
            after: Some(json!("http://127.0.0.1:9000/new")),
        }]
    );
    assert!(describe(&plan)
        .contains("~ sink.url: \"http://127.0.0.1:9000/old\" -> \"http://127.0.0.1:9000/new\""));
}

#[test]
fn secrets_compare_masked_and_are_never_shown() {
    let files = vec![file("a", hook("http://127.0.0.1:9000/x", "new-secret"))];
    let node = vec![on_node("a", hook("http://127.0.0.1:9000/x", "old-secret"))];
    let quiet = plan(files.clone(), &node, PlanOptions::default());
    assert!(quiet.is_empty(), "{}", describe(&quiet));

    let rolled = plan(
        files,
        &node,
        PlanOptions {
            resend_secrets: true,
            ..PlanOptions::default()
        },
    );
    assert_eq!(actions(&rolled), vec![("a".into(), "update")]);
    let text = format!("{}{}", describe(&rolled), to_json(&rolled));
    assert!(!text.contains("new-secret"), "{text}");
}

#[test]
fn a_file_holding_the_mask_keeps_the_stored_secret_and_is_not_resent() {
    let files = vec![file("a", hook("http://127.0.0.1:9000/x", "******"))];
    let node = vec![on_node("a", hook("http://127.0.0.1:9000/x", "stored"))];
    let options = PlanOptions {
        resend_secrets: true,
        ..PlanOptions::default()
    };
    assert!(plan(files, &node, options).is_empty());
}

#[test]
fn connectors_without_a_file_are_deleted_only_with_prune() {
    let console = json!({"sink": {"type": "console"}});
    let files = vec![file("a", console.clone())];
    let node = vec![on_node("a", console.clone()), on_node("old", console)];
    let kept = plan(files.clone(), &node, PlanOptions::default());
    assert!(kept.is_empty());
    assert_eq!(kept.kept, vec!["old".to_owned()]);
    let pruned = plan(
        files,
        &node,
        PlanOptions {
            prune: true,
            ..PlanOptions::default()
        },
    );
    assert_eq!(
        actions(&pruned),
        vec![("a".into(), "unchanged"), ("old".into(), "delete")]
    );
}

#[test]
fn an_invalid_file_is_an_update_the_node_will_refuse() {
    let plan = plan(
        vec![file("a", json!({"sinc": {"type": "console"}}))],
        &[on_node("a", json!({"sink": {"type": "console"}}))],
        PlanOptions::default(),
    );
    let Step::Update { reason, .. } = &plan.steps[0] else {
        panic!("expected an update");
    };
    assert!(
        reason.as_deref().is_some_and(|r| r.contains("sinc")),
        "{reason:?}"
    );
}

#[test]
fn diffs_name_added_removed_and_indexed_settings() {
    let before = json!({"a": 1, "list": [1, 2], "gone": true});
    let after = json!({"a": 2, "list": [1, 3, 4], "new": "x"});
    let lines: Vec<String> = diff(&before, &after)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        vec![
            "~ a: 1 -> 2",
            "- gone: true",
            "~ list[1]: 2 -> 3",
            "+ list[2]: 4",
            "+ new: \"x\"",
        ]
    );
}

#[test]
fn a_new_name_alone_is_a_rename_that_leaves_the_definition_alone() {
    let console = json!({"sink": {"type": "console"}});
    let mut named = file("a", console.clone());
    named.name = Some("Audit trail".into());
    let plan = plan(
        vec![named],
        &[on_node("a", console.clone())],
        PlanOptions::default(),
    );
    let step = &plan.steps[0];
    assert_eq!(step.action(), "update");
    assert_eq!(step.new_name(), Some("Audit trail"));
    assert!(!step.sends_definition(), "only the name differs");

    let mut renamed_and_changed = file("a", json!({"sink": {"type": "console", "format": "json"}}));
    renamed_and_changed.name = Some("Audit trail".into());
    let plan = plan_of(renamed_and_changed, on_node("a", console.clone()));
    assert!(plan.steps[0].sends_definition() && plan.steps[0].new_name().is_some());

    let mut same_name = file("a", console.clone());
    same_name.name = Some("Audit trail".into());
    let mut named_on_node = on_node("a", console);
    named_on_node.name = Some("Audit trail".into());
    assert_eq!(
        plan_of(same_name, named_on_node).steps[0].action(),
        "unchanged"
    );
}

fn plan_of(file: DefinitionFile, node: NodeConnector) -> Plan {
    plan(vec![file], &[node], PlanOptions::default())
}

#[test]
fn kurrentdb_shaped_files_read_as_the_definition_their_settings_say() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("http-sink.json");
    std::fs::write(
        &path,
        serde_json::to_vec(&json!({
            "name": "Demo HTTP Sink",
            "settings": {
                "instanceTypeName": "http-sink",
                "url": "https://api.example.com/{event-type}",
                "subscription:filter:scope": "stream",
                "subscription:filter:filterType": "prefix",
                "subscription:filter:expression": "orders-"
            }
        }))
        .unwrap(),
    )
    .unwrap();
    let read = DefinitionFile::read(&path, None).expect("a definition file");
    assert_eq!(read.id.as_str(), "http-sink");
    assert_eq!(read.name.as_deref(), Some("Demo HTTP Sink"));
    assert_eq!(
        read.definition["sink"]["url"],
        "https://api.example.com/{eventType}"
    );
    assert_eq!(read.create_body()["name"], "Demo HTTP Sink");
    let same_on_node = on_node("http-sink", Value::Object(read.definition.clone()));
    assert_eq!(
        plan_of(read, same_on_node).steps[0].action(),
        "update",
        "named on the node only"
    );

    std::fs::write(
        &path,
        br#"{"settings": {"instanceTypeName": "kafka-sink"}, "sink": {"type": "console"}}"#,
    )
    .unwrap();
    let error = DefinitionFile::read(&path, None).expect_err("a mixed file");
    assert!(error.to_string().contains("beside `settings`"), "{error}");
    std::fs::write(
        &path,
        br#"{"settings": {"instanceTypeName": "kafka-sink"}}"#,
    )
    .unwrap();
    let error = DefinitionFile::read(&path, None).expect_err("an unknown sink");
    assert!(error.to_string().contains("kafka-sink"), "{error}");
}
