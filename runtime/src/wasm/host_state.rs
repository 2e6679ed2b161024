//! What a component's store holds: WASI with nothing granted, outgoing HTTP
//! limited to an allow-list, memory limits, and the logging import.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::bindings::logging;

/// Who runs the component, for log lines and the HTTP allow-list.
#[derive(Clone)]
pub struct GuestIdentity {
    pub connector: String,
    /// The stage's name, e.g. `transform[0]:redact` or `sink:webhook`.
    pub stage: String,
    /// The component's secrets: its log lines show them as `******`.
    pub secrets: Vec<String>,
}

/// Shows the secrets' count only.
impl std::fmt::Debug for GuestIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestIdentity")
            .field("connector", &self.connector)
            .field("stage", &self.stage)
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

/// The data of one component instance's store.
pub(super) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: AllowListHooks,
    pub(super) limits: StoreLimits,
    identity: Arc<GuestIdentity>,
}

impl HostState {
    pub fn new(
        identity: Arc<GuestIdentity>,
        memory_bytes: usize,
        allow_hosts: Arc<Vec<String>>,
    ) -> Self {
        // No preopened directories, no environment, no arguments, no network
        // sockets: only clocks, random and the (empty) standard streams.
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: AllowListHooks {
                allow_hosts,
                identity: Arc::clone(&identity),
            },
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .instances(64)
                .tables(64)
                .memories(16)
                .trap_on_grow_failure(true)
                .build(),
            identity,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Lets outgoing requests through only to the allowed hosts.
struct AllowListHooks {
    allow_hosts: Arc<Vec<String>>,
    identity: Arc<GuestIdentity>,
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

impl WasiHttpHooks for AllowListHooks {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn std::future::Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<
                            dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>>
                                + Send,
                        >,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        let uri = request.uri();
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            _ => Some(80),
        });
        if !host_allowed(&self.allow_hosts, &host, port) {
            tracing::warn!(
                connector = %self.identity.connector,
                stage = %self.identity.stage,
                uri = %crate::secrets::mask_url(&uri.to_string()),
                "outgoing request refused: host not in allowHosts"
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        drop(fut);
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>,
            ))
        })
    }
}

impl logging::Host for HostState {
    async fn log(&mut self, level: logging::Level, message: String) {
        let (connector, stage) = (&self.identity.connector, &self.identity.stage);
        // Guests choose the level; the runtime caps what one line may hold.
        let message: String = message.chars().take(4096).collect();
        let message = crate::secrets::redact_in(&message, &self.identity.secrets);
        match level {
            logging::Level::Trace => {
                tracing::trace!(connector = %connector, stage = %stage, "{message}")
            }
            logging::Level::Debug => {
                tracing::debug!(connector = %connector, stage = %stage, "{message}")
            }
            logging::Level::Info => {
                tracing::info!(connector = %connector, stage = %stage, "{message}")
            }
            logging::Level::Warn => {
                tracing::warn!(connector = %connector, stage = %stage, "{message}")
            }
            logging::Level::Error => {
                tracing::error!(connector = %connector, stage = %stage, "{message}")
            }
        }
    }
}
