//! The events the benchmarks append: `OrderPlaced`, a JSON object of about
//! 250 bytes (an order with a customer, a card number the `redact`
//! component removes, and two lines), appended in batches of 1,000 over a
//! set of streams.

use connectors::store::{EventStore, ExpectedRevision, NewEvent};
use serde_json::{json, Value};

/// Events per append call in [`append_orders`].
pub const APPEND_BATCH: u64 = 1000;

/// Order number `n`.
pub fn order(n: u64) -> Value {
    json!({
        "orderId": format!("order-{n:08}"),
        "customer": { "id": format!("customer-{:06}", n % 100_000), "tier": "gold", "country": "NL" },
        "card": "4111111111111111",
        "lines": [ { "sku": "SKU-000123", "qty": 2, "price": 19.99 }, { "sku": "SKU-000456", "qty": 1, "price": 5.25 } ],
        "total": 45.23,
        "currency": "EUR"
    })
}

/// Appends orders `0..count` in batches of [`APPEND_BATCH`], batch `b` to
/// stream `{prefix}{b % streams}`.
pub async fn append_orders(store: &dyn EventStore, prefix: &str, streams: u64, count: u64) {
    let mut next = 0;
    let mut batch_number = 0;
    while next < count {
        let end = (next + APPEND_BATCH).min(count);
        let batch = (next..end)
            .map(|n| NewEvent::json("OrderPlaced", &order(n)))
            .collect();
        store
            .append(
                &format!("{prefix}{}", batch_number % streams),
                ExpectedRevision::Any,
                batch,
            )
            .await
            .expect("append orders");
        next = end;
        batch_number += 1;
    }
}
