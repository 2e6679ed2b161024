//! `connectors connector ...`: list, inspect, create, apply a directory,
//! enable, disable, reset and delete connectors.

use std::path::PathBuf;

use anyhow::Context;
use reqwest::Method;
use serde_json::Value;

use super::apply::{self, DefinitionFile, NodeConnector, PlanOptions, Step};
use super::client::{segment, Body, NodeClient};
use super::output::{field, shorten, Printer};
use super::ClientArgs;

/// What to do with connectors.
#[derive(clap::Subcommand, Debug)]
pub enum ConnectorCommand {
    /// Lists the connectors with their state, position and counts.
    List,
    /// Shows a connector: its status and its definition (secrets hidden).
    Get { id: String },
    /// Creates a connector from a definition file (the body `POST
    /// /connectors/{id}` takes, `enable` included). Its id is `--id`, else
    /// the file's `id` field, else the file name without `.json`.
    Create {
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
        #[arg(long)]
        id: Option<String>,
    },
    /// Makes the node's connectors match a directory of definition files
    /// (`*.json`, one connector each, named by its `id` field or its file
    /// name): creates the missing, updates the changed, leaves the equal
    /// alone.
    Apply {
        #[arg(short = 'f', long = "dir", value_name = "DIR")]
        dir: PathBuf,
        /// Also delete the connectors that have no file.
        #[arg(long)]
        prune: bool,
        /// Print the plan (with the settings each update changes) and
        /// change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Update every connector whose file holds a secret, sending its
        /// secrets again (the node never shows secrets, so a new secret
        /// value alone is not seen as a change).
        #[arg(long)]
        resend_secrets: bool,
    },
    /// Starts a connector from its checkpoint (restarts a faulted one).
    Enable { id: String },
    /// Stops a connector after saving its checkpoint.
    Disable { id: String },
    /// Starts a new round from `--to`: `start` (replay the whole log),
    /// `end` (only events appended from now on) or a log position (the
    /// events after it).
    Reset {
        id: String,
        #[arg(long, value_name = "start|end|POSITION")]
        to: String,
    },
    /// Stops and deletes a connector with its checkpoints and dead letters.
    Delete { id: String },
}

/// Runs `command` against the node `args` names.
pub async fn run(command: ConnectorCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = args.client()?;
    let out = Printer::new(args.output);
    match command {
        ConnectorCommand::List => {
            let answer = client.get("/connectors").await?;
            if out.is_json() {
                return Ok(out.json(&answer)?);
            }
            let rows = answer
                .as_array()
                .map(|items| items.iter().map(list_row).collect())
                .unwrap_or_default();
            out.table(
                &[
                    "ID",
                    "ENABLED",
                    "STATE",
                    "MEMBER",
                    "POSITION",
                    "LAG",
                    "DELIVERED",
                    "DEAD-LETTERED",
                    "LAST ERROR",
                ],
                rows,
            )?;
        }
        ConnectorCommand::Get { id } => {
            let answer = client.get(&connector_path(&id, "")).await?;
            if out.is_json() {
                return Ok(out.json(&answer)?);
            }
            out.table(&["FIELD", "VALUE"], details(&answer))?;
            if let Some(definition) = answer.get("definition") {
                out.text("\ndefinition:")?;
                out.json(definition)?;
            }
        }
        ConnectorCommand::Create { file, id } => {
            let file = DefinitionFile::read(&file, id.as_deref())?;
            let answer = create(&client, &file).await.with_context(|| file.name())?;
            report(&out, "created", &answer)?;
        }
        ConnectorCommand::Apply {
            dir,
            prune,
            dry_run,
            resend_secrets,
        } => {
            let options = PlanOptions {
                prune,
                resend_secrets,
            };
            apply_dir(&client, &out, &dir, options, dry_run).await?;
        }
        ConnectorCommand::Enable { id } => {
            let answer = command_on(&client, &id, "/enable", Body::None).await?;
            report(&out, "enabled", &answer)?;
        }
        ConnectorCommand::Disable { id } => {
            let answer = command_on(&client, &id, "/disable", Body::None).await?;
            report(&out, "disabled", &answer)?;
        }
        ConnectorCommand::Reset { id, to } => {
            let to: Value = match to.parse::<u64>() {
                Ok(position) => position.into(),
                Err(_) => to.into(),
            };
            let body = serde_json::to_vec(&serde_json::json!({ "to": to }))?;
            let answer = command_on(&client, &id, "/reset", Body::Json(body)).await?;
            report(&out, "reset", &answer)?;
        }
        ConnectorCommand::Delete { id } => {
            client
                .send(Method::DELETE, &connector_path(&id, ""), Body::None)
                .await?;
            out.say(&format!("deleted connector `{id}`"))?;
        }
    }
    Ok(())
}

fn connector_path(id: &str, rest: &str) -> String {
    format!("/connectors/{}{rest}", segment(id))
}

async fn command_on(
    client: &NodeClient,
    id: &str,
    action: &str,
    body: Body,
) -> anyhow::Result<Value> {
    Ok(client
        .send(Method::POST, &connector_path(id, action), body)
        .await?)
}

async fn create(client: &NodeClient, file: &DefinitionFile) -> anyhow::Result<Value> {
    let body = serde_json::to_vec(&file.create_body())?;
    Ok(client
        .send(
            Method::POST,
            &connector_path(file.id.as_str(), ""),
            Body::Json(body),
        )
        .await?)
}

/// Prints what a command did: the API's answer with `--output json`, else
/// a sentence with the connector's state.
fn report(out: &Printer, done: &str, answer: &Value) -> anyhow::Result<()> {
    if out.is_json() {
        return Ok(out.json(answer)?);
    }
    out.text(&format!(
        "{done} connector `{}` (enabled: {}, state: {})",
        field(answer, "/id"),
        field(answer, "/enabled"),
        field(answer, "/status/state"),
    ))?;
    Ok(())
}

/// A row of `connector list`.
fn list_row(connector: &Value) -> Vec<String> {
    vec![
        field(connector, "/id"),
        field(connector, "/enabled"),
        field(connector, "/status/state"),
        field(connector, "/status/member"),
        field(connector, "/status/position"),
        field(connector, "/status/lag"),
        field(connector, "/status/delivered"),
        field(connector, "/status/deadLettered"),
        shorten(&field(connector, "/status/lastError/message"), 60),
    ]
}

/// The fields `connector get` shows above the definition.
fn details(connector: &Value) -> Vec<Vec<String>> {
    [
        ("id", "/id"),
        ("name", "/name"),
        ("enabled", "/enabled"),
        ("state", "/status/state"),
        ("member", "/status/member"),
        ("reason", "/status/reason"),
        ("position", "/status/position"),
        ("checkpoint", "/status/checkpoint"),
        ("lag", "/status/lag"),
        ("caught up", "/status/caughtUp"),
        ("retrying", "/status/retrying"),
        ("delivered", "/status/delivered"),
        ("failed", "/status/failed"),
        ("dead-lettered", "/status/deadLettered"),
        ("filtered out", "/status/filteredOut"),
        ("last error", "/status/lastError/message"),
        ("last error at", "/status/lastError/at"),
        ("round", "/round"),
        ("revision", "/revision"),
        ("created", "/created"),
        ("updated", "/updated"),
    ]
    .into_iter()
    .filter(|(_, path)| connector.pointer(path).is_some())
    .map(|(name, path)| vec![name.to_owned(), field(connector, path)])
    .collect()
}

/// `apply -f DIR`: plans, then (unless `dry_run`) carries the plan out in
/// order, stopping at the first step the node refuses.
async fn apply_dir(
    client: &NodeClient,
    out: &Printer,
    dir: &std::path::Path,
    options: PlanOptions,
    dry_run: bool,
) -> anyhow::Result<()> {
    let files = apply::read_dir(dir)?;
    let node = NodeConnector::from_list(&client.get("/connectors").await?);
    let plan = apply::plan(files, &node, options);
    let mut summary = apply::to_json(&plan);
    summary["dryRun"] = dry_run.into();
    if dry_run {
        if out.is_json() {
            return Ok(out.json(&summary)?);
        }
        out.text(&apply::describe(&plan))?;
        out.text("dry run: nothing was changed")?;
        return Ok(());
    }
    if plan.is_empty() && !out.is_json() {
        out.text(&format!(
            "nothing to do: the {} connector(s) of `{}` match the node",
            plan.steps.len(),
            dir.display()
        ))?;
    }
    // With nothing to change, the unchanged ones are not listed one by one.
    let steps: &[Step] = if plan.is_empty() { &[] } else { &plan.steps };
    for step in steps {
        match step {
            Step::Create(file) => {
                create(client, file).await.with_context(|| file.name())?;
                out.say(&format!("created   {} ({})", file.id, file.name()))?;
            }
            Step::Update { file, .. } => {
                if step.sends_definition() {
                    let body = serde_json::to_vec(&file.update_body())?;
                    client
                        .send(
                            Method::PUT,
                            &connector_path(file.id.as_str(), ""),
                            Body::Json(body),
                        )
                        .await
                        .with_context(|| file.name())?;
                }
                if let Some(name) = step.new_name() {
                    let body = serde_json::to_vec(&serde_json::json!({ "name": name }))?;
                    client
                        .send(
                            Method::PUT,
                            &connector_path(file.id.as_str(), "/rename"),
                            Body::Json(body),
                        )
                        .await
                        .with_context(|| file.name())?;
                }
                out.say(&format!("updated   {} ({})", file.id, file.name()))?;
            }
            Step::Unchanged(file) => {
                out.say(&format!("unchanged {} ({})", file.id, file.name()))?;
            }
            Step::Delete(id) => {
                client
                    .send(Method::DELETE, &connector_path(id, ""), Body::None)
                    .await
                    .with_context(|| format!("deleting `{id}`"))?;
                out.say(&format!("deleted   {id}"))?;
            }
        }
    }
    for id in &plan.kept {
        out.say(&format!("kept      {id} (no file; `--prune` deletes it)"))?;
    }
    if out.is_json() {
        out.json(&summary)?;
    }
    Ok(())
}
