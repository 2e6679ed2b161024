//! `connectors connector apply -f DIR`: the plan that makes a node's
//! connectors match a directory of definition files.
//!
//! [`plan`] compares each [`DefinitionFile`] of the directory with what
//! `GET /connectors` answers, after reading both as a definition so
//! defaults the node fills in and the order of fields do not count: a missing connector is created, a
//! different one reconfigured (`PUT`, listing the settings that differ), an
//! equal one left alone; a connector without a file is deleted only with
//! `--prune`. The node never returns secrets, so secrets compare masked on
//! both sides: a new secret value alone is not seen. A changed
//! destination (the sink's URL, a module) is, and its update sends the
//! file's secrets; `--resend-secrets` updates every connector whose file
//! holds a secret, to roll secrets. A different `name` is a rename, which
//! leaves the running pipeline alone when nothing else differs.
//!
//! Everything here is pure: no network, no files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

pub use super::definition_file::{read_dir, DefinitionFile, DefinitionFileError};
use crate::connector::ConnectorDefinition;

/// A connector on the node: its id and definition (secrets masked), or
/// `None` when the node cannot read it.
#[derive(Debug, Clone)]
pub struct NodeConnector {
    pub id: String,
    pub name: Option<String>,
    pub definition: Option<Value>,
}

impl NodeConnector {
    /// The connectors of a `GET /connectors` answer.
    pub fn from_list(answer: &Value) -> Vec<NodeConnector> {
        answer
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| {
                        Some(NodeConnector {
                            id: item.get("id")?.as_str()?.to_owned(),
                            name: item.get("name").and_then(Value::as_str).map(str::to_owned),
                            definition: item.get("definition").cloned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One setting that differs, at a path such as `sink.url` or
/// `transforms[0].config.level`.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingChange {
    pub path: String,
    /// On the node; `None` when it lacks the setting.
    pub before: Option<Value>,
    /// In the file; `None` when it lacks the setting.
    pub after: Option<Value>,
}

impl fmt::Display for SettingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.before, &self.after) {
            (Some(before), Some(after)) => write!(f, "~ {}: {before} -> {after}", self.path),
            (None, Some(after)) => write!(f, "+ {}: {after}", self.path),
            (Some(before), None) => write!(f, "- {}: {before}", self.path),
            (None, None) => write!(f, "~ {}", self.path),
        }
    }
}

/// What apply does to one connector.
#[derive(Debug, Clone)]
pub enum Step {
    Create(DefinitionFile),
    /// `changes` lists the differing settings; `reason` says why it is
    /// updated when the settings cannot be compared or are equal.
    Update {
        file: DefinitionFile,
        changes: Vec<SettingChange>,
        reason: Option<String>,
    },
    Unchanged(DefinitionFile),
    Delete(String),
}

impl Step {
    /// Whether an update sends the definition: anything but a new name
    /// differs, or it is sent for a reason.
    pub fn sends_definition(&self) -> bool {
        match self {
            Step::Update {
                changes, reason, ..
            } => reason.is_some() || changes.iter().any(|c| c.path != NAME),
            _ => false,
        }
    }

    /// The new name an update gives, if any.
    pub fn new_name(&self) -> Option<&str> {
        match self {
            Step::Update { file, changes, .. } if changes.iter().any(|c| c.path == NAME) => {
                file.name.as_deref()
            }
            _ => None,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Step::Create(file) | Step::Unchanged(file) | Step::Update { file, .. } => {
                file.id.as_str()
            }
            Step::Delete(id) => id,
        }
    }

    /// `create`, `update`, `unchanged` or `delete`.
    pub fn action(&self) -> &'static str {
        match self {
            Step::Create(_) => "create",
            Step::Update { .. } => "update",
            Step::Unchanged(_) => "unchanged",
            Step::Delete(_) => "delete",
        }
    }

    /// Whether it changes the node.
    pub fn changes_node(&self) -> bool {
        !matches!(self, Step::Unchanged(_))
    }
}

/// The steps, creates and updates in the order of their ids, then deletes.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Connectors on the node without a file, left alone (no `--prune`).
    pub kept: Vec<String>,
}

impl Plan {
    /// Whether applying it changes nothing.
    pub fn is_empty(&self) -> bool {
        !self.steps.iter().any(Step::changes_node)
    }
}

/// How files are compared with the node.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Delete connectors that have no file.
    pub prune: bool,
    /// Update every connector whose file holds a secret.
    pub resend_secrets: bool,
}

/// What makes the node's connectors (`node`) match `files`.
pub fn plan(files: Vec<DefinitionFile>, node: &[NodeConnector], options: PlanOptions) -> Plan {
    let on_node: BTreeMap<&str, &NodeConnector> = node.iter().map(|c| (c.id.as_str(), c)).collect();
    let in_files: BTreeSet<String> = files.iter().map(|f| f.id.to_string()).collect();
    let mut plan = Plan::default();
    for file in files {
        let Some(existing) = on_node.get(file.id.as_str()) else {
            plan.steps.push(Step::Create(file));
            continue;
        };
        plan.steps.push(compare(file, existing, options));
    }
    for connector in node {
        if in_files.contains(&connector.id) {
            continue;
        }
        if options.prune {
            plan.steps.push(Step::Delete(connector.id.clone()));
        } else {
            plan.kept.push(connector.id.clone());
        }
    }
    plan
}

/// The path a change of the name for people shows as.
pub const NAME: &str = "name";

/// Update or unchanged, for a file whose connector exists.
fn compare(file: DefinitionFile, existing: &NodeConnector, options: PlanOptions) -> Step {
    let renamed = match &file.name {
        Some(name) if existing.name.as_ref() != Some(name) => Some(SettingChange {
            path: NAME.into(),
            before: existing.name.clone().map(Value::from),
            after: Some(name.clone().into()),
        }),
        _ => None,
    };
    let step = compare_definitions(file, existing.definition.as_ref(), options);
    match (step, renamed) {
        (step, None) => step,
        (Step::Unchanged(file), Some(rename)) => Step::Update {
            file,
            changes: vec![rename],
            reason: None,
        },
        (
            Step::Update {
                file,
                mut changes,
                reason,
            },
            Some(rename),
        ) => {
            changes.insert(0, rename);
            Step::Update {
                file,
                changes,
                reason,
            }
        }
        (step, Some(_)) => step,
    }
}

/// Update or unchanged, by the definitions alone.
fn compare_definitions(
    file: DefinitionFile,
    on_node: Option<&Value>,
    options: PlanOptions,
) -> Step {
    let update = |file, changes, reason: Option<&str>| Step::Update {
        file,
        changes,
        reason: reason.map(str::to_owned),
    };
    let local = match read_definition(&file.update_body()) {
        Ok(local) => local,
        Err(e) => {
            let reason = format!("the file is not a valid definition ({e}); the node will say why");
            return update(file, Vec::new(), Some(&reason));
        }
    };
    let Some(remote) = on_node.and_then(|d| read_definition(d).ok()) else {
        return update(
            file,
            Vec::new(),
            Some("the node cannot show its definition"),
        );
    };
    let (local_masked, remote_masked) = (masked(&local), masked(&remote));
    let changes = diff(&remote_masked, &local_masked);
    if !changes.is_empty() {
        return update(file, changes, None);
    }
    if options.resend_secrets && holds_secrets(&local) {
        return update(file, Vec::new(), Some("its secrets are sent again"));
    }
    Step::Unchanged(file)
}

fn read_definition(value: &Value) -> Result<ConnectorDefinition, serde_json::Error> {
    serde_json::from_value(value.clone())
}

/// The definition as the node shows it: defaults filled in, secrets masked.
fn masked(definition: &ConnectorDefinition) -> Value {
    serde_json::to_value(definition.redacted()).unwrap_or(Value::Null)
}

/// Whether `definition` carries a secret value (not the mask that keeps the
/// stored one).
fn holds_secrets(definition: &ConnectorDefinition) -> bool {
    serde_json::to_value(definition).ok() != Some(masked(definition))
}

/// The settings that differ between `before` and `after`, by path.
pub fn diff(before: &Value, after: &Value) -> Vec<SettingChange> {
    let mut changes = Vec::new();
    diff_at("", before, after, &mut changes);
    changes
}

fn diff_at(path: &str, before: &Value, after: &Value, changes: &mut Vec<SettingChange>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for key in keys {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match (b.get(key), a.get(key)) {
                    (Some(b), Some(a)) => diff_at(&at, b, a, changes),
                    (before, after) => changes.push(SettingChange {
                        path: at,
                        before: before.cloned(),
                        after: after.cloned(),
                    }),
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for i in 0..b.len().max(a.len()) {
                let at = format!("{path}[{i}]");
                match (b.get(i), a.get(i)) {
                    (Some(b), Some(a)) => diff_at(&at, b, a, changes),
                    (before, after) => changes.push(SettingChange {
                        path: at,
                        before: before.cloned(),
                        after: after.cloned(),
                    }),
                }
            }
        }
        (b, a) if b == a => {}
        (b, a) => changes.push(SettingChange {
            path: path.to_owned(),
            before: Some(b.clone()),
            after: Some(a.clone()),
        }),
    }
}

/// The plan as people read it: one line per connector, the changed
/// settings under an update.
pub fn describe(plan: &Plan) -> String {
    let mut lines = Vec::new();
    for step in &plan.steps {
        match step {
            Step::Create(file) => lines.push(format!("create    {} ({})", file.id, file.name())),
            Step::Update {
                file,
                changes,
                reason,
            } => {
                lines.push(format!("update    {} ({})", file.id, file.name()));
                lines.extend(changes.iter().map(|c| format!("            {c}")));
                lines.extend(reason.iter().map(|r| format!("            ({r})")));
            }
            Step::Unchanged(file) => lines.push(format!("unchanged {} ({})", file.id, file.name())),
            Step::Delete(id) => lines.push(format!("delete    {id}")),
        }
    }
    for id in &plan.kept {
        lines.push(format!("kept      {id} (no file; `--prune` deletes it)"));
    }
    lines.join("\n")
}

/// The plan as JSON: `{"changes": [{"id", "action", "file", "settings":
/// [{"path", "before", "after"}], "reason"}], "kept": [...]}`.
pub fn to_json(plan: &Plan) -> Value {
    let steps: Vec<Value> = plan
        .steps
        .iter()
        .map(|step| {
            let mut entry = serde_json::json!({ "id": step.id(), "action": step.action() });
            let file = match step {
                Step::Create(file) | Step::Unchanged(file) | Step::Update { file, .. } => {
                    Some(file)
                }
                Step::Delete(_) => None,
            };
            if let Some(file) = file {
                entry["file"] = file.path.display().to_string().into();
            }
            if let Step::Update {
                changes, reason, ..
            } = step
            {
                entry["settings"] = changes
                    .iter()
                    .map(|c| serde_json::json!({"path": c.path, "before": c.before, "after": c.after}))
                    .collect();
                if let Some(reason) = reason {
                    entry["reason"] = reason.clone().into();
                }
            }
            entry
        })
        .collect();
    serde_json::json!({ "changes": steps, "kept": plan.kept })
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
