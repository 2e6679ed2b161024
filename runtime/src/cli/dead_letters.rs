//! `connectors dead-letters list ID`: the events a connector refused for
//! good, oldest first, a page at a time. (Replaying them has no API yet.)

use super::client::segment;
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
}

pub async fn run(command: DeadLetterCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = args.client()?;
    let out = Printer::new(args.output);
    let DeadLetterCommand::List { id, from, limit } = command;
    let answer = client
        .get(&format!(
            "/connectors/{}/dead-letters?from={from}&limit={limit}",
            segment(&id)
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
            ]
        })
        .collect();
    out.table(
        &[
            "#", "AT", "STAGE", "STREAM", "REVISION", "POSITION", "TYPE", "REASON",
        ],
        rows,
    )?;
    if let Some(next) = answer.get("nextFrom") {
        out.text(&format!("more: --from {next}"))?;
    }
    Ok(())
}
