//! What every row group shares: the settings, the receiver process, the
//! embedded node (with its API, in process) and the streams appended to it
//! before the first row; and [`Bench::deliver`], the timing of one
//! connector from its create to its last event at the receiver.

use std::path::PathBuf;
use std::time::Instant;

use connectors::node::Node;
use serde_json::{json, Value};

use crate::receiver_process::ReceiverProcess;
use crate::settings::Settings;
use crate::support::api::Api;

/// The orders of the batch rows: `orders-0` .. `orders-9`.
pub const ORDERS: &str = "orders-";
/// The events of the per-event half of row 8: `single-0` .. `single-9`.
pub const SINGLES: &str = "single-";
/// Row 4's streams: `keyed-0` .. `keyed-99`.
pub const KEYED: &str = "keyed-";
/// Row 6's stream.
pub const LATENCY_STREAM: &str = "latency-1";

pub struct Bench {
    pub settings: Settings,
    pub receiver: ReceiverProcess,
    pub node: Node,
    pub api: Api,
    /// Where further nodes keep their data.
    pub dir: PathBuf,
}

/// Why a delivery has no rate: the API refused the connector, or its events
/// did not all arrive in time.
pub struct NoRate(pub String);

impl Bench {
    /// Creates connector `id` (its receiver run is also `id`) through `api`,
    /// enabled, and times it from the create request until the receiver
    /// counted `events`; then deletes it. Events per second.
    pub async fn deliver(
        &self,
        api: &Api,
        id: &str,
        definition: Value,
        events: u64,
    ) -> Result<f64, NoRate> {
        let start = Instant::now();
        api.create_connector(id, &definition)
            .await
            .map_err(|refusal| NoRate(refusal.to_string()))?;
        let arrived = self
            .receiver
            .wait_for(id, events, start, self.settings.deadline)
            .await;
        let seconds = start.elapsed().as_secs_f64();
        api.delete_connector(id)
            .await
            .unwrap_or_else(|refusal| panic!("delete connector {id}: {refusal}"));
        match arrived {
            Ok(_) => Ok(events as f64 / seconds),
            Err(stalled) => Err(NoRate(stalled.to_string())),
        }
    }
}

/// An HTTP sink to `url`, one request per 1,000 events.
pub fn batch_sink(url: String) -> Value {
    json!({
        "type": "http",
        "url": url,
        "batch": { "maxEvents": 1000, "maxBytes": 4194304, "lingerMs": 5 }
    })
}

/// An HTTP sink to `url`, one request per event.
pub fn per_event_sink(url: String) -> Value {
    json!({ "type": "http", "url": url })
}

/// A connector with `sink` for the streams that start with `prefix`.
pub fn definition(sink: Value, prefix: &str) -> Value {
    json!({
        "sink": sink,
        "filter": { "streams": { "prefixes": [prefix] } }
    })
}
