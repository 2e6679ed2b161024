//! `connectors preview -f request.json`: runs a filter and transform chain
//! over events (`POST /preview`) and shows what each event would become.

use std::path::PathBuf;

use anyhow::Context;
use reqwest::Method;

use super::client::Body;
use super::output::{field, shorten, Printer};
use super::ClientArgs;

/// The request file: the body `POST /preview` takes.
#[derive(clap::Args, Debug)]
pub struct PreviewArgs {
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
}

pub async fn run(preview: PreviewArgs, args: &ClientArgs) -> anyhow::Result<()> {
    let client = args.client()?;
    let out = Printer::new(args.output);
    let body = std::fs::read(&preview.file)
        .with_context(|| format!("cannot read `{}`", preview.file.display()))?;
    let answer = client
        .send(Method::POST, "/preview", Body::Json(body))
        .await?;
    if out.is_json() {
        return Ok(out.json(&answer)?);
    }
    let rows = answer
        .get("results")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .map(|result| {
            vec![
                field(result, "/event/stream"),
                field(result, "/event/type"),
                field(result, "/event/position"),
                field(result, "/outcome"),
                result
                    .get("records")
                    .and_then(|r| r.as_array())
                    .map_or_else(|| "-".to_owned(), |r| r.len().to_string()),
                field(result, "/stage"),
                shorten(&field(result, "/reason"), 60),
            ]
        })
        .collect();
    out.table(
        &[
            "STREAM", "TYPE", "POSITION", "OUTCOME", "RECORDS", "STAGE", "REASON",
        ],
        rows,
    )?;
    out.text(&format!(
        "delivered {}, dropped {}, dead-lettered {}",
        field(&answer, "/summary/delivered"),
        field(&answer, "/summary/dropped"),
        field(&answer, "/summary/deadLettered"),
    ))?;
    Ok(())
}
