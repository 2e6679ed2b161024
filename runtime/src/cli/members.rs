//! `connectors members`: the members of the cluster, alive or not, with the
//! connectors each runs.

use super::output::{field, Printer};
use super::ClientArgs;

pub async fn run(args: &ClientArgs) -> anyhow::Result<()> {
    let client = args.client()?;
    let out = Printer::new(args.output);
    let answer = client.get("/members").await?;
    if out.is_json() {
        return Ok(out.json(&answer)?);
    }
    let rows = answer
        .as_array()
        .into_iter()
        .flatten()
        .map(|member| {
            vec![
                field(member, "/member"),
                field(member, "/role"),
                field(member, "/address"),
                field(member, "/alive"),
                field(member, "/leaving"),
                field(member, "/ageMs"),
                field(member, "/connectors"),
            ]
        })
        .collect();
    out.table(
        &[
            "MEMBER",
            "ROLE",
            "ADDRESS",
            "ALIVE",
            "LEAVING",
            "HEARTBEAT AGE (MS)",
            "CONNECTORS",
        ],
        rows,
    )?;
    Ok(())
}
