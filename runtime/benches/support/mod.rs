//! Shared by the benchmarks: a local HTTP receiver that counts events
//! ([`receiver`]), nodes started as a library ([`node`]), the management API
//! called in process ([`api`]), the order events they append ([`orders`]),
//! the CPU time of a process ([`cpu`]), the measurement of many
//! connectors on one node ([`scale`]) and the
//! `redact` component measured against its native twin ([`wasm_ratio`]).
//! Each benchmark uses a part of it.

#![allow(dead_code)]

pub mod api;
pub mod cpu;
pub mod node;
pub mod orders;
pub mod scale;
pub mod wasm_ratio;

use connectors::store::{AllStart, Direction, EventStore, Position};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;

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

/// Reads the whole `$all` forwards in pages of 1,000 (what a catching-up
/// subscription reads); the events read.
pub async fn read_whole_all(store: &dyn EventStore) -> u64 {
    let mut read = 0u64;
    let mut from = AllStart::Start;
    loop {
        let page = store
            .read_all(Direction::Forwards, from, 1000)
            .await
            .expect("read `$all`");
        read += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == 1000 => {
                from = AllStart::Position(Position::new(
                    last.position.commit + 1,
                    last.position.prepare + 1,
                ))
            }
            _ => return read,
        }
    }
}
