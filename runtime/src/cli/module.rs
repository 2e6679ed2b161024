//! `connectors module ...`: upload, list and delete WebAssembly components.

use std::path::PathBuf;

use anyhow::Context;
use reqwest::Method;

use super::client::{segment, Body};
use super::output::{cell, field, Printer};
use super::ClientArgs;

/// What to do with modules.
#[derive(clap::Subcommand, Debug)]
pub enum ModuleCommand {
    /// Uploads a component (a `.wasm` file) under NAME; connectors that
    /// name it without a digest pick it up at their next start.
    Put {
        name: String,
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
    },
    /// Lists the modules: their latest version and how many they have.
    List,
    /// Deletes a module with every version (refused while a connector uses
    /// it).
    Delete { name: String },
}

pub async fn run(command: ModuleCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = args.client()?;
    let out = Printer::new(args.output);
    match command {
        ModuleCommand::Put { name, file } => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            let answer = client
                .send(
                    Method::PUT,
                    &format!("/modules/{}", segment(&name)),
                    Body::Wasm(bytes),
                )
                .await?;
            if out.is_json() {
                return Ok(out.json(&answer)?);
            }
            out.text(&format!(
                "uploaded `{}`: {} ({} bytes, {}); pin it as `{}`",
                field(&answer, "/name"),
                field(&answer, "/digest"),
                field(&answer, "/size"),
                field(&answer, "/worlds"),
                field(&answer, "/reference"),
            ))?;
            for follower in answer
                .get("followers")
                .and_then(|f| f.as_array())
                .into_iter()
                .flatten()
            {
                out.text(&format!(
                    "  connector `{}` runs it {}{}",
                    field(follower, "/connector"),
                    field(follower, "/picksUp"),
                    follower
                        .get("warning")
                        .map(|w| format!("; warning: {}", cell(w)))
                        .unwrap_or_default(),
                ))?;
            }
        }
        ModuleCommand::List => {
            let answer = client.get("/modules").await?;
            out.listing(
                &answer,
                &[
                    ("NAME", "/name"),
                    ("WORLDS", "/worlds"),
                    ("SIZE", "/size"),
                    ("VERSIONS", "/versionCount"),
                    ("UPLOADED", "/uploaded"),
                    ("DIGEST", "/digest"),
                ],
            )?;
        }
        ModuleCommand::Delete { name } => {
            client
                .send(
                    Method::DELETE,
                    &format!("/modules/{}", segment(&name)),
                    Body::None,
                )
                .await?;
            out.say(&format!("deleted module `{name}`"))?;
        }
    }
    Ok(())
}
