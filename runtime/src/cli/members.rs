//! `connectors members`: the members of the cluster, alive or not, with the
//! connectors each runs.

use super::output::Printer;
use super::ClientArgs;

pub async fn run(args: &ClientArgs) -> anyhow::Result<()> {
    let client = args.client()?;
    let out = Printer::new(args.output);
    let answer = client.get("/members").await?;
    out.listing(
        &answer,
        &[
            ("MEMBER", "/member"),
            ("ROLE", "/role"),
            ("ADDRESS", "/address"),
            ("ALIVE", "/alive"),
            ("LEAVING", "/leaving"),
            ("HEARTBEAT AGE (MS)", "/ageMs"),
            ("CONNECTORS", "/connectors"),
        ],
    )?;
    Ok(())
}
