//! A loopback HTTP receiver for the connectors' sinks that records, per
//! connector, each *tenure*: the member (`esdb-connector-member`) and
//! ownership epoch (`esdb-connector-epoch`) its deliveries came from, with
//! the arrival times of the first and the latest. A hand-over shows as a
//! new tenure; its `first` is when the new owner delivered first.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

/// The deliveries of one connector by one owner in one epoch.
#[derive(Debug, Clone)]
pub struct Tenure {
    pub member: String,
    pub epoch: u64,
    pub first: Instant,
    pub last: Instant,
}

type Tenures = HashMap<String, Vec<Tenure>>;

/// The running receiver; connector `id` delivers to [`Receiver::url`].
pub struct Receiver {
    addr: SocketAddr,
    tenures: Arc<Mutex<Tenures>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let tenures = Arc::new(Mutex::new(Tenures::new()));
        let app = Router::new()
            .route("/c/{id}", post(record))
            .with_state(Arc::clone(&tenures));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("the receiver's address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, tenures }
    }

    /// Where connector `id` sends its events.
    pub fn url(&self, id: &str) -> String {
        format!("http://{}/c/{id}", self.addr)
    }

    /// When a member other than `not` first delivered for `id` after `since`.
    pub fn first_delivery_after(&self, id: &str, since: Instant, not: &str) -> Option<Instant> {
        lock(&self.tenures)
            .get(id)?
            .iter()
            .filter(|t| t.member != not && t.first > since)
            .map(|t| t.first)
            .min()
    }

    /// Whether `member` has delivered for `id` after `since`.
    pub fn delivered_by_since(&self, id: &str, member: &str, since: Instant) -> bool {
        lock(&self.tenures)
            .get(id)
            .is_some_and(|tenures| tenures.iter().any(|t| t.member == member && t.last > since))
    }
}

fn lock(tenures: &Mutex<Tenures>) -> MutexGuard<'_, Tenures> {
    tenures
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn record(
    State(tenures): State<Arc<Mutex<Tenures>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let now = Instant::now();
    drop(body);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let member = header("esdb-connector-member").unwrap_or("?").to_owned();
    let epoch = header("esdb-connector-epoch")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut tenures = lock(&tenures);
    let of_connector = tenures.entry(id).or_default();
    match of_connector
        .iter_mut()
        .find(|t| t.member == member && t.epoch == epoch)
    {
        Some(tenure) => tenure.last = tenure.last.max(now),
        None => of_connector.push(Tenure {
            member,
            epoch,
            first: now,
            last: now,
        }),
    }
    StatusCode::OK
}
