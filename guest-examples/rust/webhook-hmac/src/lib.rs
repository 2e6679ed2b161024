//! `webhook-hmac`: a `sink` component that POSTs each event's data to a URL,
//! signed with HMAC-SHA256, through `wasi:http/outgoing-handler`.
//!
//! Config: `{"url": "http://host:port/path", "secret": "...", "timeoutMs": 10000}`
//! (`timeoutMs` is optional).
//!
//! Each request carries `content-type` (the event's), `content-length`,
//! `x-signature: sha256=<hex hmac-sha256(secret, body)>`, `x-event-id`,
//! `x-event-type`, `x-event-stream` and `x-event-position`.
//!
//! Outcomes:
//! - 2xx: `delivered`;
//! - 408, 429, 5xx, or a transport error: the whole call returns
//!   `err(retryable)` at once (the batch is retried: at-least-once);
//! - other 4xx (and 1xx/3xx): `failed(invalid-event)` for that event, which
//!   goes to the dead-letter stream;
//! - a request the host refuses (host not allowed, invalid URI, unknown
//!   destination): the whole call returns `err(fatal)`.

use std::sync::{Mutex, PoisonError};

use hmac::{Hmac, Mac};
use sha2::Sha256;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "sink",
    // The vendored wasi:cli@0.2.12 imports an `@unstable(feature = clocks-timezone)`
    // interface, which this wit-parser can only resolve with the feature on;
    // it adds nothing to the `sink` world.
    features: ["clocks-timezone"],
    // Bindings for wasi:http and the wasi:io/clocks interfaces it uses.
    generate_all,
});

use kurrent::connector::logging::{log, Level};
use kurrent::connector::types::ErrorKind;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions,
    Scheme,
};

struct Config {
    url: String,
    scheme: Scheme,
    authority: String,
    path_with_query: String,
    secret: Vec<u8>,
    timeout_ns: Option<u64>,
}

static CONFIG: Mutex<Option<Config>> = Mutex::new(None);

/// At most this many bytes of a response body go into an error message.
const BODY_EXCERPT: usize = 300;

/// `blocking-write-and-flush` accepts at most 4096 bytes a call.
const WRITE_CHUNK: usize = 4096;

fn error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error {
        kind,
        message: message.into(),
    }
}

fn parse_url(url: &str) -> Result<(Scheme, String, String), String> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else {
        return Err(format!(
            "config `url` must start with http:// or https://, got `{url}`"
        ));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(format!("config `url` has no valid host: `{url}`"));
    }
    let mut path = rest[end..].split('#').next().unwrap_or("").to_string();
    if path.is_empty() || path.starts_with('?') {
        path.insert(0, '/');
    }
    Ok((scheme, authority.to_string(), path))
}

fn parse_config(config: &str) -> Result<Config, String> {
    let value: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("config is not valid JSON: {e}"))?;
    let url = value
        .get("url")
        .and_then(|u| u.as_str())
        .ok_or_else(|| "config needs `url`: the webhook's http(s) URL".to_string())?
        .to_string();
    let secret = value
        .get("secret")
        .and_then(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "config needs `secret`: a non-empty string to sign with".to_string())?
        .as_bytes()
        .to_vec();
    let timeout_ns = match value.get("timeoutMs") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|ms| *ms > 0)
                .ok_or_else(|| "config `timeoutMs` must be a positive integer".to_string())?
                .saturating_mul(1_000_000),
        ),
    };
    let (scheme, authority, path_with_query) = parse_url(&url)?;
    Ok(Config {
        url,
        scheme,
        authority,
        path_with_query,
        secret,
        timeout_ns,
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// The name WIT gives an `error-code` case, with its detail when it has one.
fn describe(code: &ErrorCode) -> String {
    let name = match code {
        ErrorCode::DnsTimeout => "DNS-timeout",
        ErrorCode::DnsError(_) => "DNS-error",
        ErrorCode::DestinationNotFound => "destination-not-found",
        ErrorCode::DestinationUnavailable => "destination-unavailable",
        ErrorCode::DestinationIpProhibited => "destination-IP-prohibited",
        ErrorCode::DestinationIpUnroutable => "destination-IP-unroutable",
        ErrorCode::ConnectionRefused => "connection-refused",
        ErrorCode::ConnectionTerminated => "connection-terminated",
        ErrorCode::ConnectionTimeout => "connection-timeout",
        ErrorCode::ConnectionReadTimeout => "connection-read-timeout",
        ErrorCode::ConnectionWriteTimeout => "connection-write-timeout",
        ErrorCode::ConnectionLimitReached => "connection-limit-reached",
        ErrorCode::TlsProtocolError => "TLS-protocol-error",
        ErrorCode::TlsCertificateError => "TLS-certificate-error",
        ErrorCode::TlsAlertReceived(_) => "TLS-alert-received",
        ErrorCode::HttpRequestDenied => "HTTP-request-denied",
        ErrorCode::HttpRequestLengthRequired => "HTTP-request-length-required",
        ErrorCode::HttpRequestBodySize(_) => "HTTP-request-body-size",
        ErrorCode::HttpRequestMethodInvalid => "HTTP-request-method-invalid",
        ErrorCode::HttpRequestUriInvalid => "HTTP-request-URI-invalid",
        ErrorCode::HttpRequestUriTooLong => "HTTP-request-URI-too-long",
        ErrorCode::HttpResponseIncomplete => "HTTP-response-incomplete",
        ErrorCode::HttpResponseTimeout => "HTTP-response-timeout",
        ErrorCode::HttpProtocolError => "HTTP-protocol-error",
        ErrorCode::ConfigurationError => "configuration-error",
        ErrorCode::InternalError(Some(detail)) => return format!("internal-error: {detail}"),
        _ => return format!("{code:?}"),
    };
    match code {
        ErrorCode::DnsError(payload) => format!("{name} {payload:?}"),
        ErrorCode::TlsAlertReceived(payload) => format!("{name} {payload:?}"),
        _ => name.to_string(),
    }
}

/// Whether an error code means the host will never let this request through:
/// retrying cannot help, so the connector should stop with a clear message.
fn is_refusal(code: &ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::HttpRequestDenied
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationIpProhibited
            | ErrorCode::HttpRequestUriInvalid
            | ErrorCode::HttpRequestMethodInvalid
            | ErrorCode::ConfigurationError
            | ErrorCode::TlsCertificateError
    )
}

/// Why one POST did not get a response.
enum SendError {
    /// The event itself cannot be sent (a header value HTTP does not allow).
    Invalid(String),
    /// A transport error.
    Code(ErrorCode),
    /// Something else went wrong in the streams: worth a retry.
    Other(String),
}

fn post(config: &Config, event: &Event) -> Result<IncomingResponse, SendError> {
    let headers: Vec<(String, Vec<u8>)> = vec![
        (
            "content-type".into(),
            event.content_type.clone().into_bytes(),
        ),
        (
            "content-length".into(),
            event.data.len().to_string().into_bytes(),
        ),
        (
            "x-signature".into(),
            signature(&config.secret, &event.data).into_bytes(),
        ),
        ("x-event-id".into(), event.id.clone().into_bytes()),
        ("x-event-type".into(), event.event_type.clone().into_bytes()),
        ("x-event-stream".into(), event.stream.clone().into_bytes()),
        (
            "x-event-position".into(),
            event.position.to_string().into_bytes(),
        ),
    ];
    let fields = Fields::from_list(&headers)
        .map_err(|e| SendError::Invalid(format!("headers not allowed by HTTP: {e:?}")))?;
    let request = OutgoingRequest::new(fields);
    let setup = request
        .set_method(&Method::Post)
        .and_then(|()| request.set_scheme(Some(&config.scheme)))
        .and_then(|()| request.set_authority(Some(&config.authority)))
        .and_then(|()| request.set_path_with_query(Some(&config.path_with_query)));
    if setup.is_err() {
        return Err(SendError::Code(ErrorCode::HttpRequestUriInvalid));
    }
    let options = config.timeout_ns.map(|ns| {
        let options = RequestOptions::new();
        // A host that does not support a timeout refuses it; then its own
        // defaults apply.
        let _ = options.set_connect_timeout(Some(ns));
        let _ = options.set_first_byte_timeout(Some(ns));
        let _ = options.set_between_bytes_timeout(Some(ns));
        options
    });
    let body = request
        .body()
        .map_err(|()| SendError::Other("request body already taken".into()))?;
    let future = outgoing_handler::handle(request, options).map_err(SendError::Code)?;
    {
        let stream = body
            .write()
            .map_err(|()| SendError::Other("request body stream already taken".into()))?;
        for chunk in event.data.chunks(WRITE_CHUNK) {
            if let Err(e) = stream.blocking_write_and_flush(chunk) {
                // The response (or its error code) tells more than the stream.
                drop(stream);
                drop(body);
                return match wait(future) {
                    Err(e) => Err(e),
                    Ok(_) => Err(SendError::Other(format!("writing the request body: {e:?}"))),
                };
            }
        }
    }
    if let Err(code) = OutgoingBody::finish(body, None) {
        // As above: a refused request shows in the response's error code.
        return match wait(future) {
            Err(e) => Err(e),
            Ok(_) => Err(SendError::Code(code)),
        };
    }
    wait(future)
}

fn wait(future: wasi::http::types::FutureIncomingResponse) -> Result<IncomingResponse, SendError> {
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(SendError::Code(code)),
        Some(Err(())) => Err(SendError::Other("response already taken".into())),
        None => Err(SendError::Other("response not ready after block".into())),
    }
}

/// The start of a response body, for error messages.
fn excerpt(response: &IncomingResponse) -> String {
    let Ok(body) = response.consume() else {
        return String::new();
    };
    let mut bytes = Vec::new();
    if let Ok(stream) = body.stream() {
        while bytes.len() < BODY_EXCERPT {
            match stream.blocking_read((BODY_EXCERPT - bytes.len()) as u64) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(_) => break,
            }
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    text.trim().to_string()
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

fn status_message(url: &str, status: u16, body: &str) -> String {
    let mut message = format!("HTTP {status}");
    let reason = reason(status);
    if !reason.is_empty() {
        message.push(' ');
        message.push_str(reason);
    }
    message.push_str(&format!(" from {url}"));
    if !body.is_empty() {
        message.push_str(": ");
        message.push_str(body);
    }
    message
}

struct Component;

impl Guest for Component {
    fn init(config: String) -> Result<(), Error> {
        let config = parse_config(&config).map_err(|m| error(ErrorKind::Fatal, m))?;
        log(
            Level::Info,
            &format!("webhook-hmac: POST to {}", config.url),
        );
        *CONFIG.lock().unwrap_or_else(PoisonError::into_inner) = Some(config);
        Ok(())
    }

    fn deliver(events: Vec<Event>) -> Result<Vec<Delivery>, Error> {
        let guard = CONFIG.lock().unwrap_or_else(PoisonError::into_inner);
        let config = guard
            .as_ref()
            .ok_or_else(|| error(ErrorKind::Fatal, "deliver called before init"))?;
        let mut deliveries = Vec::with_capacity(events.len());
        for event in &events {
            match post(config, event) {
                Ok(response) => {
                    let status = response.status();
                    if (200..300).contains(&status) {
                        deliveries.push(Delivery::Delivered);
                    } else if status >= 500 || status == 408 || status == 429 {
                        let message = status_message(&config.url, status, &excerpt(&response));
                        log(Level::Warn, &message);
                        return Err(error(ErrorKind::Retryable, message));
                    } else {
                        let message = status_message(&config.url, status, &excerpt(&response));
                        log(Level::Warn, &format!("event {}: {message}", event.id));
                        deliveries.push(Delivery::Failed(error(ErrorKind::InvalidEvent, message)));
                    }
                }
                Err(SendError::Invalid(message)) => {
                    deliveries.push(Delivery::Failed(error(ErrorKind::InvalidEvent, message)));
                }
                Err(SendError::Code(code)) if is_refusal(&code) => {
                    let message = format!("request to {} refused: {}", config.url, describe(&code));
                    log(Level::Error, &message);
                    return Err(error(ErrorKind::Fatal, message));
                }
                Err(SendError::Code(code)) => {
                    let message = format!("request to {} failed: {}", config.url, describe(&code));
                    log(Level::Warn, &message);
                    return Err(error(ErrorKind::Retryable, message));
                }
                Err(SendError::Other(detail)) => {
                    let message = format!("request to {} failed: {detail}", config.url);
                    log(Level::Warn, &message);
                    return Err(error(ErrorKind::Retryable, message));
                }
            }
        }
        Ok(deliveries)
    }
}

export!(Component);
