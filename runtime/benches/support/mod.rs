//! Shared by the benchmarks: a local HTTP receiver that counts events, and
//! the `redact` component measured against its native twin.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;

// Not every benchmark that uses the receiver measures components.
#[allow(dead_code)]
pub mod wasm_ratio;

/// A receiver that counts events (requests, or array items in batch mode).
pub async fn receiver() -> (String, Arc<AtomicU64>) {
    async fn count(
        State(counter): State<Arc<AtomicU64>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        // Batches say how many events they carry; the body is still read whole.
        let n = headers
            .get("esdb-batch-size")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(1);
        drop(body);
        counter.fetch_add(n, Ordering::Relaxed);
        StatusCode::OK
    }
    let counter = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .fallback(count)
        .with_state(Arc::clone(&counter));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/ingest"), counter)
}
