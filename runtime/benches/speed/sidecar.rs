//! Row 5: the same orders in batches of 1,000, delivered by a sidecar: a
//! second node in this process whose store is the embedded node, reached
//! over the KurrentDB gRPC protocol (the sidecar backend: its `$all`
//! subscription through its own decoder, the rest through the official
//! Rust client), as `throughput.rs` measures it. The sidecar joins as a
//! follower and the connector asks for `"affinity": "follower"`, so the
//! sidecar runs it, not the embedded node. Against row 1's embedded rate.

use connectors::connector::MemberRole;

use crate::context::{batch_sink, definition, Bench, NoRate, ORDERS};
use crate::support::api::Api;
use crate::support::node::sidecar;
use crate::table::{rate, ratio, thousands, Row};

const ROW: &str = "5. sidecar over gRPC vs embedded, batch of 1,000";
const TARGET: &str = ">= 0.8x";

pub async fn row(bench: &Bench, embedded: Option<f64>) -> Row {
    let Some(store) = bench.node.grpc_addr() else {
        return Row::not_available(ROW, TARGET, "the embedded node serves no gRPC".into());
    };
    let node = sidecar(
        bench.dir.join("sidecar"),
        "sidecar",
        MemberRole::Follower,
        store,
    )
    .await;
    let api = Api::of(&node);
    let mut connector = definition(batch_sink(bench.receiver.url("sidecar")), ORDERS);
    connector["affinity"] = "follower".into();
    let events = bench.settings.events;
    let delivered = bench.deliver(&api, "sidecar", connector, events).await;
    node.leave().await;
    match (delivered, embedded) {
        (Ok(remote), Some(local)) => Row::measured(
            ROW,
            TARGET,
            format!(
                "sidecar {} vs embedded {} ({} events); {}",
                rate(remote),
                rate(local),
                thousands(events),
                ratio(remote / local)
            ),
            remote / local >= 0.8,
        ),
        (Ok(remote), None) => Row::not_available(
            ROW,
            TARGET,
            format!(
                "sidecar {} but no embedded row to compare with",
                rate(remote)
            ),
        ),
        (Err(NoRate(why)), _) => Row::not_available(ROW, TARGET, why),
    }
}
