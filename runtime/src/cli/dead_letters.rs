//! `connectors dead-letters list ID`: the events a connector refused for
//! good, oldest first, a page at a time, each with its last replay.
//! `connectors dead-letters replay ID [--from R] [--to R] [--again]`:
//! re-delivers them through the connector's current definition and prints
//! each letter's outcome.

use reqwest::Method;

use super::client::{segment, Body};
use super::output::{field, shorten, Printer};
use super::ClientArgs;

/// What to do with dead letters.
#[derive(clap::Subcommand, Debug)]
pub enum DeadLetterCommand {
    /// Lists a connector's dead letters with the stage and reason.
    List {
        id: String,
        /// The revision of the dead-letter stream to start at (the `next`
        /// that the page before printed).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// How many letters, 1 to 1000.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Re-delivers a connector's dead letters through its current
    /// definition, in order, and prints each outcome.
    Replay {
        id: String,
        /// The first revision of the dead-letter stream to replay.
        #[arg(long)]
        from: Option<u64>,
        /// The last revision to replay (included).
        #[arg(long)]
        to: Option<u64>,
        /// Replay letters a replay already delivered too.
        #[arg(long)]
        again: bool,
    },
}

pub async fn run(command: DeadLetterCommand, args: &ClientArgs) -> anyhow::Result<()> {
    match command {
        DeadLetterCommand::List { id, from, limit } => list(&id, from, limit, args).await,
        DeadLetterCommand::Replay {
            id,
            from,
            to,
            again,
        } => replay(&id, from, to, again, args).await,
    }
}

async fn list(id: &str, from: u64, limit: usize, args: &ClientArgs) -> anyhow::Result<()> {
    let client = args.client()?;
    let out = Printer::new(args.output);
    let answer = client
        .get(&format!(
            "/connectors/{}/dead-letters?from={from}&limit={limit}",
            segment(id)
        ))
        .await?;
    if out.is_json() {
        return Ok(out.json(&answer)?);
    }
    let rows = answer
        .get("deadLetters")
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .map(|letter| {
            vec![
                field(letter, "/revision"),
                field(letter, "/deadLetteredAt"),
                field(letter, "/stage"),
                field(letter, "/event/stream"),
                field(letter, "/event/revision"),
                field(letter, "/event/position"),
                field(letter, "/event/type"),
                shorten(&field(letter, "/reason"), 60),
                field(letter, "/replayed/outcome"),
            ]
        })
        .collect();
    out.table(
        &[
            "#", "AT", "STAGE", "STREAM", "REVISION", "POSITION", "TYPE", "REASON", "REPLAYED",
        ],
        rows,
    )?;
    if let Some(next) = answer.get("nextFrom") {
        out.text(&format!("more: --from {next}"))?;
    }
    Ok(())
}

async fn replay(
    id: &str,
    from: Option<u64>,
    to: Option<u64>,
    again: bool,
    args: &ClientArgs,
) -> anyhow::Result<()> {
    let client = args.client()?;
    let out = Printer::new(args.output);
    let mut body = serde_json::json!({ "again": again });
    if let Some(from) = from {
        body["from"] = from.into();
    }
    if let Some(to) = to {
        body["to"] = to.into();
    }
    let answer = client
        .send(
            Method::POST,
            &format!("/connectors/{}/dead-letters/replay", segment(id)),
            Body::Json(serde_json::to_vec(&body)?),
        )
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
                field(result, "/revision"),
                field(result, "/event/stream"),
                field(result, "/event/revision"),
                field(result, "/event/type"),
                field(result, "/outcome"),
                field(result, "/stage"),
                shorten(&field(result, "/reason"), 60),
            ]
        })
        .collect();
    out.table(
        &[
            "#", "STREAM", "REVISION", "TYPE", "OUTCOME", "STAGE", "REASON",
        ],
        rows,
    )?;
    let count = |key: &str| field(&answer, &format!("/summary/{key}"));
    out.text(&format!(
        "delivered {}, dropped {}, failed {}, skipped {}",
        count("delivered"),
        count("dropped"),
        count("failed"),
        count("skipped")
    ))?;
    if let Some(next) = answer.get("nextFrom") {
        out.text(&format!("more: --from {next}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Line {
        #[command(subcommand)]
        command: DeadLetterCommand,
    }

    #[test]
    fn replay_takes_a_range_and_again() {
        let line = Line::try_parse_from(["dl", "replay", "hook", "--from", "2", "--again"])
            .expect("parses");
        let DeadLetterCommand::Replay {
            id,
            from,
            to,
            again,
        } = line.command
        else {
            panic!("not a replay");
        };
        assert_eq!(
            (id.as_str(), from, to, again),
            ("hook", Some(2), None, true)
        );
        let line = Line::try_parse_from(["dl", "replay", "hook"]).expect("parses");
        assert!(matches!(
            line.command,
            DeadLetterCommand::Replay {
                from: None,
                to: None,
                again: false,
                ..
            }
        ));
    }
}
