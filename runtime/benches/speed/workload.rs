//! The events appended before the first row, so every row reads events
//! that are already in the store (catch-up, the case the rates describe):
//! the orders of the batch rows over 10 streams, the events of the
//! per-event rows over 10 streams (both in batches of 1,000), and row 4's
//! events over 100 streams, one event per append from one writer per
//! stream, so the streams interleave in the log as independent entities
//! do.

use std::sync::Arc;

use connectors::store::{EventStore, ExpectedRevision, NewEvent};

use crate::context::{KEYED, ORDERS, SINGLES};
use crate::settings::Settings;
use crate::support::orders::{append_orders, order};

/// Row 4's streams.
pub const KEYED_STREAMS: u64 = 100;

pub async fn append(store: &Arc<dyn EventStore>, settings: &Settings) {
    append_orders(store.as_ref(), ORDERS, 10, settings.events).await;
    append_orders(store.as_ref(), SINGLES, 10, settings.single_events).await;
    let per_stream = settings.keyed_events.div_ceil(KEYED_STREAMS);
    let writers: Vec<_> = (0..KEYED_STREAMS)
        .map(|s| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                for i in 0..per_stream {
                    let n = i * KEYED_STREAMS + s;
                    store
                        .append(
                            &format!("{KEYED}{s}"),
                            ExpectedRevision::Any,
                            vec![NewEvent::json("OrderPlaced", &order(n))],
                        )
                        .await
                        .expect("append a keyed event");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a keyed writer");
    }
}

/// The events row 4 delivers (a whole number per stream).
pub fn keyed_total(settings: &Settings) -> u64 {
    settings.keyed_events.div_ceil(KEYED_STREAMS) * KEYED_STREAMS
}
