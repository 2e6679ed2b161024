//! The running HTTP sink.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use reqwest::Url;

use super::config::HttpSinkConfig;
use super::request::{base_headers, batch_request, event_request};
use super::send::{Sent, Transport};
use super::template::UrlTemplate;
use crate::sinks::retry::RetryPolicy;
use crate::sinks::{
    BatchLimits, ConfigError, DeliveryOutcome, Rejection, Sink, SinkContext, SinkError,
};
use crate::store::RecordedEvent;

/// Batches the pipeline hands a per-event sink: small, so the pipeline
/// checkpoints often, and no linger, since each event is its own request.
const PER_EVENT_LIMITS: BatchLimits = BatchLimits {
    max_events: 32,
    max_bytes: 1024 * 1024,
    linger: Duration::ZERO,
};

/// Where requests go.
#[derive(Clone)]
enum Target {
    Fixed(Url),
    Template(UrlTemplate),
}

/// Sends events to an HTTP endpoint (see the [module docs](super)).
#[derive(Clone)]
pub struct HttpSink {
    config: HttpSinkConfig,
    target: Target,
    headers: HeaderMap,
    transport: Transport,
}

impl HttpSink {
    /// Validates `config` and builds the sink with one HTTP client (kept-alive
    /// connections are reused across requests). No I/O happens here.
    pub fn new(config: HttpSinkConfig, ctx: SinkContext) -> Result<HttpSink, ConfigError> {
        config.validate()?;
        let template =
            UrlTemplate::parse(&config.url).map_err(|m| ConfigError::new("sink.url", m))?;
        let target = if template.has_templates() {
            Target::Template(template)
        } else {
            Target::Fixed(Url::parse(&config.url).map_err(|e| {
                ConfigError::new(
                    "sink.url",
                    format!("is not a URL ({e}), e.g. `https://example.com/hook`"),
                )
            })?)
        };
        let headers = base_headers(&config, &ctx.connector_id, ctx.owner.as_ref())?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = crate::outbound::client::client_builder(&ctx.destinations)
            .timeout(timeout)
            .tcp_keepalive(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| ConfigError::new("sink", format!("cannot build an HTTP client: {e}")))?;
        let transport = Transport {
            client,
            method: config.method.as_reqwest(),
            policy: RetryPolicy::new(&config.retry),
            ctx,
            timeout,
            on_status: config.on_status.clone(),
        };
        Ok(HttpSink {
            config,
            target,
            headers,
            transport,
        })
    }

    async fn deliver_each(
        &self,
        batch: &[RecordedEvent],
    ) -> Result<Vec<DeliveryOutcome>, SinkError> {
        let mut outcomes = Vec::with_capacity(batch.len());
        // One after the other: a destination sees events in order.
        for event in batch {
            let url = match &self.target {
                Target::Fixed(url) => url.clone(),
                Target::Template(template) => {
                    let parsed = template.render(event).and_then(|rendered| {
                        Url::parse(&rendered).map_err(|error| {
                            format!("the URL `{rendered}` for this event is invalid: {error}")
                        })
                    });
                    match parsed {
                        Ok(url) => url,
                        Err(reason) => {
                            let reason = crate::secrets::mask_urls(&reason);
                            outcomes.push(DeliveryOutcome::Rejected(Rejection::new(reason)));
                            if self.transport.ctx.stop_at_first_rejection {
                                break;
                            }
                            continue;
                        }
                    }
                }
            };
            let request = event_request(event, url, &self.headers, self.config.cloud_events);
            match self.transport.send(&request).await {
                Sent::Delivered => outcomes.push(DeliveryOutcome::Delivered),
                Sent::Refused(rejection) | Sent::GaveUp(rejection) => {
                    let stop =
                        rejection.stops_connector || self.transport.ctx.stop_at_first_rejection;
                    outcomes.push(DeliveryOutcome::Rejected(rejection));
                    if stop {
                        break;
                    }
                }
                Sent::DestinationRefused(reason) => {
                    return Err(SinkError::DestinationRefused(reason))
                }
            }
        }
        Ok(outcomes)
    }

    /// Sends the batch as one request. When the destination refuses a
    /// request of several events, each half is sent again on its own, down
    /// to single events, so only the events refused on their own are
    /// rejected: destinations see some events more than once and must be
    /// idempotent (at-least-once delivery asks that anyway). Halves go out
    /// left to right, so delivered events still arrive in order.
    async fn deliver_batch(
        &self,
        url: &Url,
        batch: &[RecordedEvent],
    ) -> Result<Vec<DeliveryOutcome>, SinkError> {
        let mut outcomes: Vec<Option<DeliveryOutcome>> = vec![None; batch.len()];
        let mut pending = vec![(0, batch.len())];
        while let Some((start, end)) = pending.pop() {
            let events = &batch[start..end];
            let request =
                batch_request(events, url.clone(), &self.headers, self.config.cloud_events);
            match self.transport.send(&request).await {
                Sent::Delivered => fill(&mut outcomes[start..end], &DeliveryOutcome::Delivered),
                Sent::Refused(rejection) if events.len() > 1 && !rejection.stops_connector => {
                    let middle = start + events.len() / 2;
                    pending.push((middle, end));
                    pending.push((start, middle));
                }
                Sent::Refused(rejection) | Sent::GaveUp(rejection) => {
                    let stop =
                        rejection.stops_connector || self.transport.ctx.stop_at_first_rejection;
                    fill(
                        &mut outcomes[start..end],
                        &DeliveryOutcome::Rejected(rejection),
                    );
                    // Halves go out left to right, so everything before
                    // `start` was delivered and nothing after `end` was sent.
                    if stop {
                        outcomes.truncate(start + 1);
                        break;
                    }
                }
                Sent::DestinationRefused(reason) => {
                    return Err(SinkError::DestinationRefused(reason))
                }
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    DeliveryOutcome::Rejected(Rejection::new(
                        "the HTTP sink lost track of this event",
                    ))
                })
            })
            .collect())
    }
}

fn fill(slots: &mut [Option<DeliveryOutcome>], outcome: &DeliveryOutcome) {
    for slot in slots {
        *slot = Some(outcome.clone());
    }
}

#[async_trait]
impl Sink for HttpSink {
    /// A sibling sharing this sink's client (its connection pool and its
    /// root certificates, loaded once).
    fn fork(&self) -> Option<Box<dyn Sink>> {
        Some(Box::new(self.clone()))
    }

    fn batch_limits(&self) -> BatchLimits {
        match &self.config.batch {
            Some(batch) => BatchLimits {
                max_events: batch.max_events,
                max_bytes: batch.max_bytes,
                linger: Duration::from_millis(batch.linger_ms),
            },
            None => PER_EVENT_LIMITS,
        }
    }

    async fn deliver(
        &mut self,
        batch: &[RecordedEvent],
    ) -> Result<Vec<DeliveryOutcome>, SinkError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        match (&self.config.batch, &self.target) {
            (Some(_), Target::Fixed(url)) => self.deliver_batch(url, batch).await,
            (Some(_), Target::Template(_)) => Err(SinkError::Unsupported(
                "the HTTP sink cannot use URL templates in batch mode",
            )),
            (None, _) => self.deliver_each(batch).await,
        }
    }
}
