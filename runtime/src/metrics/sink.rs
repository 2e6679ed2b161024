//! A connector's sink requests: how many, by outcome and status class, and
//! how long each took. Only sinks that make the requests themselves (HTTP)
//! count here; a custom sink's requests are its component's business.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::buckets;
use super::labels::{ConnectorLabel, RequestLabels};

/// How one request attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// The destination took the events.
    Delivered,
    /// The destination refused them for good.
    Refused,
    /// A retryable failure: retried, or given up after the last attempt.
    Failed,
}

impl RequestOutcome {
    const ALL: [RequestOutcome; 3] = [Self::Delivered, Self::Refused, Self::Failed];

    /// The `outcome` label's value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

/// The class of a request's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestClass {
    /// 2xx answers (and informational ones).
    Success,
    /// 3xx answers (redirects are not followed).
    Redirection,
    ClientError,
    ServerError,
    /// No answer: the connection failed or timed out.
    TransportError,
}

impl RequestClass {
    const ALL: [RequestClass; 5] = [
        Self::Success,
        Self::Redirection,
        Self::ClientError,
        Self::ServerError,
        Self::TransportError,
    ];

    /// The class of an HTTP status code.
    pub fn of_status(status: u16) -> Self {
        match status {
            300..=399 => Self::Redirection,
            400..=499 => Self::ClientError,
            500..=599 => Self::ServerError,
            _ => Self::Success,
        }
    }

    /// The `class` label's value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "2xx",
            Self::Redirection => "3xx",
            Self::ClientError => "4xx",
            Self::ServerError => "5xx",
            Self::TransportError => "transport_error",
        }
    }
}

const CELLS: usize = RequestOutcome::ALL.len() * RequestClass::ALL.len();

fn cell(outcome: RequestOutcome, class: RequestClass) -> usize {
    outcome as usize * RequestClass::ALL.len() + class as usize
}

/// The sink request families.
#[derive(Clone)]
pub(super) struct SinkFamilies {
    requests: Family<RequestLabels, Counter>,
    seconds: Family<ConnectorLabel, Histogram, fn() -> Histogram>,
}

impl Default for SinkFamilies {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            seconds: Family::new_with_constructor(buckets::request),
        }
    }
}

impl SinkFamilies {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "sink_requests",
            "Requests the sink sent (each attempt), by outcome and class of answer (2xx, 3xx, 4xx, 5xx, transport_error)",
            self.requests.clone(),
        );
        registry.register_with_unit(
            "sink_request_duration",
            "Time from sending a request to the destination's answer (or the failure)",
            Unit::Seconds,
            self.seconds.clone(),
        );
    }

    pub fn resolve(&self, connector: &str) -> SinkMetrics {
        SinkMetrics {
            connector: Arc::from(connector),
            families: self.clone(),
            cells: Arc::new(std::array::from_fn(|_| OnceLock::new())),
            seconds: Arc::new(OnceLock::new()),
        }
    }

    pub fn remove(&self, connector: &str) {
        for outcome in RequestOutcome::ALL {
            for class in RequestClass::ALL {
                self.requests
                    .remove(&request_labels(connector, outcome, class));
            }
        }
        self.seconds.remove(&ConnectorLabel {
            connector: connector.to_owned(),
        });
    }
}

fn request_labels(connector: &str, outcome: RequestOutcome, class: RequestClass) -> RequestLabels {
    RequestLabels {
        connector: connector.to_owned(),
        outcome: outcome.name(),
        class: class.name(),
    }
}

/// What a sink counts its requests with. A series appears with its first
/// request (of that outcome and class); its handle is kept from then on,
/// so a sink that makes no requests of its own shows none.
#[derive(Clone)]
pub struct SinkMetrics {
    connector: Arc<str>,
    families: SinkFamilies,
    cells: Arc<[OnceLock<Counter>; CELLS]>,
    seconds: Arc<OnceLock<Histogram>>,
}

impl SinkMetrics {
    /// Counts into series no registry shows (tests, benchmarks).
    pub fn detached() -> Self {
        SinkFamilies::default().resolve("")
    }

    /// Records one request attempt that took `took`.
    pub fn record(&self, outcome: RequestOutcome, class: RequestClass, took: Duration) {
        let counter = self.cells[cell(outcome, class)].get_or_init(|| {
            self.families.requests.get_or_create_owned(&request_labels(
                &self.connector,
                outcome,
                class,
            ))
        });
        counter.inc();
        let seconds = self.seconds.get_or_init(|| {
            self.families.seconds.get_or_create_owned(&ConnectorLabel {
                connector: self.connector.to_string(),
            })
        });
        seconds.observe(took.as_secs_f64());
    }
}
