//! The demo: a console connector and a writer that appends an order event
//! every second, so a new node shows connectors working right away. The
//! `demo` command runs it in its own data directory (`./demo-data` unless
//! `--data` says otherwise), so the demo connector never carries over into
//! a node started with `serve`.

use std::time::Duration;

use serde_json::json;

use crate::connector::{Command, CommandError, ConnectorDefinition, ConnectorId};
use crate::node::Node;
use crate::store::{ExpectedRevision, NewEvent};

const DEMO_CONNECTOR: &str = "demo-console";

/// Creates the demo connector unless it exists, and starts the writer.
pub async fn start(node: &Node, interval: Duration) -> anyhow::Result<()> {
    create_connector(node).await?;
    let store = std::sync::Arc::clone(node.store());
    tokio::spawn(async move {
        let mut n: u64 = 0;
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            n += 1;
            let stream = format!("demo-orders-{}", n % 3);
            let event = NewEvent::json(
                "OrderPlaced",
                &json!({ "order": n, "total": (n * 37) % 200, "currency": "EUR" }),
            );
            if let Err(e) = store
                .append(&stream, ExpectedRevision::Any, vec![event])
                .await
            {
                tracing::warn!(error = %e, "demo writer could not append");
            }
        }
    });
    Ok(())
}

async fn create_connector(node: &Node) -> anyhow::Result<()> {
    let id = ConnectorId::parse(DEMO_CONNECTOR)?;
    let definition: ConnectorDefinition = serde_json::from_value(json!({
        "sink": { "type": "console", "format": "text" },
        "filter": { "streams": { "prefixes": ["demo-orders-"] } },
        "start": "end"
    }))?;
    match node
        .execute(
            &id,
            Command::Create {
                definition,
                enable: true,
                name: None,
            },
        )
        .await
    {
        Ok(_) => {
            tracing::info!(connector = DEMO_CONNECTOR, "demo connector created");
            Ok(())
        }
        Err(CommandError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
