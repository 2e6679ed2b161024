//! What a component's store holds: WASI with nothing granted, outgoing HTTP
//! limited to an allow-list and the destination policy, the memory limit of
//! the whole component, and the logging import.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::logging;
use super::identity::GuestIdentity;
use super::limiter::TotalLimiter;
use super::outgoing::{OutgoingHooks, OutgoingHttp};

/// The data of one component instance's store.
pub(super) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: OutgoingHooks,
    pub(super) limits: TotalLimiter,
    identity: Arc<GuestIdentity>,
}

impl HostState {
    pub fn new(
        identity: Arc<GuestIdentity>,
        memory_bytes: usize,
        outgoing: Option<Arc<OutgoingHttp>>,
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
            hooks: OutgoingHooks::new(outgoing, Arc::clone(&identity)),
            limits: TotalLimiter::new(memory_bytes),
            identity,
        }
    }

    /// Starts a call that must end by `deadline`: outgoing requests get
    /// what is left of it, and refusals of an earlier call are forgotten.
    pub fn start_call(&mut self, deadline: Instant) {
        self.hooks.deadline = deadline;
        self.take_refusal();
    }

    /// The first destination the policy refused since the call started.
    pub fn take_refusal(&mut self) -> Option<String> {
        let mut slot = self.hooks.refused.lock().unwrap_or_else(|p| p.into_inner());
        slot.take()
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
