//! Outgoing HTTP of sink components (`wasi:http/outgoing-handler`).
//!
//! A request goes out only when its host is in the sink's `allowHosts` and
//! the node's destination policy allows the address it resolves to: it is
//! sent by a policy-checked client (see [`crate::outbound::client`]), never
//! by a direct connection. A host outside `allowHosts` fails the request for
//! the guest (`HTTP-request-denied`) and is recorded with the entry that
//! would allow it, so the call ends in a
//! [`super::StageError::DestinationRefused`] that says what to add. The request body is read up to
//! [`MAX_REQUEST_BODY`]; the request's time is the guest's own (connect
//! plus first-byte timeouts) capped by what is left of the call's budget. A refused destination fails the request for the guest
//! (`destination-ip-prohibited`) and is recorded, so the call ends in a
//! [`super::StageError::DestinationRefused`] whatever the guest makes of it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Limited};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::identity::GuestIdentity;
use crate::outbound::client::{self as outbound, SendError};
use crate::outbound::DestinationPolicy;

/// The largest request body a component may send.
pub const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;

/// A little over the budget, so the call's own deadline ends first and the
/// status names the budget rather than a request timeout.
const BUDGET_SLACK: Duration = Duration::from_millis(200);

/// What a sink stage may reach and the client it reaches it with.
pub struct OutgoingHttp {
    pub allow_hosts: Vec<String>,
    pub policy: Arc<DestinationPolicy>,
    pub client: reqwest::Client,
}

/// The hooks of one store: allow-list, policy, call deadline.
pub(super) struct OutgoingHooks {
    http: Option<Arc<OutgoingHttp>>,
    identity: Arc<GuestIdentity>,
    /// When the current call's budget ends.
    pub(super) deadline: Instant,
    /// The first destination the policy refused during the current call.
    pub(super) refused: Arc<Mutex<Option<String>>>,
}

impl OutgoingHooks {
    pub fn new(http: Option<Arc<OutgoingHttp>>, identity: Arc<GuestIdentity>) -> Self {
        Self {
            http,
            identity,
            deadline: Instant::now(),
            refused: Arc::default(),
        }
    }
}

/// Whether `host` (and `port`) is allowed by an entry: `host`, `host:port`,
/// or `*.domain` for any sub-domain.
pub(super) fn host_allowed(allow: &[String], host: &str, port: Option<u16>) -> bool {
    let host = host.to_ascii_lowercase();
    allow.iter().any(|entry| {
        let entry = entry.to_ascii_lowercase();
        let (entry_host, entry_port) = match entry.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_owned(), p.parse::<u16>().ok()),
            _ => (entry.clone(), None),
        };
        let host_matches = match entry_host.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => entry_host == host,
        };
        host_matches && entry_port.is_none_or(|p| Some(p) == port)
    })
}

/// Why a request to a host outside `allowHosts` was denied, naming the
/// entry that would allow it (`host:port` when the URL names a port).
pub(super) fn not_allowed(url: &str, host: &str, explicit_port: Option<u16>) -> String {
    let entry = match explicit_port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    format!(
        "the sink component's request to {url} was denied (HTTP-request-denied): `{entry}` is not in `sink.allowHosts`; add it, e.g. `\"allowHosts\": [\"{entry}\"]`"
    )
}

type IoFuture = Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send>;
type SendFuture = Box<
    dyn std::future::Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>>
        + Send,
>;

impl WasiHttpHooks for OutgoingHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> SendFuture {
        drop(fut);
        let uri = request.uri();
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            _ => Some(80),
        });
        let Some(http) = self
            .http
            .as_ref()
            .filter(|h| host_allowed(&h.allow_hosts, &host, port))
        else {
            let masked = crate::secrets::mask_url(&uri.to_string());
            tracing::warn!(
                connector = %self.identity.connector,
                stage = %self.identity.stage,
                uri = %masked,
                "outgoing request refused: host not in allowHosts"
            );
            let reason = not_allowed(&masked, &host, uri.port_u16());
            let mut slot = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(reason);
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        };
        let http = Arc::clone(http);
        let budget_left = self.deadline.saturating_duration_since(Instant::now()) + BUDGET_SLACK;
        // The guest's own wait for an answer, when it sets one.
        let asked = options.and_then(|o| {
            o.first_byte_timeout
                .map(|first| first + o.connect_timeout.unwrap_or_default())
        });
        let timeout = asked.map_or(budget_left, |asked| asked.min(budget_left));
        let refused = Arc::clone(&self.refused);
        let identity = Arc::clone(&self.identity);
        Box::new(async move {
            let response = send(&http, request, timeout).await.map_err(|e| {
                if let Failure::Refused(reason) = &e {
                    tracing::warn!(connector = %identity.connector, stage = %identity.stage, %reason, "outgoing request refused");
                    let mut slot = refused.lock().unwrap_or_else(|p| p.into_inner());
                    slot.get_or_insert_with(|| reason.clone());
                }
                e.into_wasi()
            })?;
            let response = http::Response::from(response)
                .map(|body| body.map_err(|e| wasi_error(&e)).boxed_unsync());
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}

/// Why a guest's request got no answer.
enum Failure {
    Refused(String),
    Wasi(HttpError),
}

impl Failure {
    fn into_wasi(self) -> HttpError {
        match self {
            Failure::Refused(_) => HttpError::DestinationIpProhibited,
            Failure::Wasi(e) => e,
        }
    }
}

async fn send(
    http: &OutgoingHttp,
    request: http::Request<WasiBody>,
    timeout: Duration,
) -> Result<reqwest::Response, Failure> {
    let (parts, body) = request.into_parts();
    let url = reqwest::Url::parse(&parts.uri.to_string())
        .map_err(|_| Failure::Wasi(HttpError::HttpRequestUriInvalid))?;
    let body = Limited::new(body, MAX_REQUEST_BODY)
        .collect()
        .await
        .map_err(|e| match e.downcast::<HttpError>() {
            Ok(e) => Failure::Wasi(*e),
            Err(_) => Failure::Wasi(HttpError::HttpRequestBodySize(None)),
        })?
        .to_bytes();
    let builder = http
        .client
        .request(parts.method, url.clone())
        .headers(parts.headers)
        .body(body)
        .timeout(timeout);
    match outbound::send(&http.policy, &url, builder).await {
        Ok(response) => Ok(response),
        Err(SendError::Refused(reason)) => Err(Failure::Refused(format!(
            "the sink component's request to {url} was refused: {reason}"
        ))),
        Err(SendError::Http(e)) => Err(Failure::Wasi(wasi_error(&e))),
    }
}

/// The `wasi:http` error closest to a client error.
fn wasi_error(error: &reqwest::Error) -> HttpError {
    if error.is_timeout() {
        HttpError::ConnectionTimeout
    } else if error.is_connect() {
        HttpError::ConnectionRefused
    } else {
        HttpError::InternalError(Some(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn allow_list_entries_match_hosts_ports_and_subdomains() {
        let allow = vec![
            "hooks.example.com".to_owned(),
            "127.0.0.1:8080".to_owned(),
            "*.example.org".to_owned(),
        ];
        assert!(host_allowed(&allow, "HOOKS.example.com", Some(443)));
        assert!(host_allowed(&allow, "127.0.0.1", Some(8080)));
        assert!(!host_allowed(&allow, "127.0.0.1", Some(8081)));
        assert!(host_allowed(&allow, "a.example.org", Some(80)));
        assert!(!host_allowed(&allow, "example.org", Some(80)));
        assert!(!host_allowed(&allow, "evil.com", Some(80)));
    }

    #[test]
    fn a_denied_host_names_the_entry_to_add() {
        let message = super::not_allowed("http://127.0.0.1:8080/x", "127.0.0.1", Some(8080));
        assert!(
            message.contains("`127.0.0.1:8080` is not in `sink.allowHosts`"),
            "{message}"
        );
        let message = super::not_allowed("https://hooks.example.com/x", "hooks.example.com", None);
        assert!(message.contains("[\"hooks.example.com\"]"), "{message}");
    }
}
