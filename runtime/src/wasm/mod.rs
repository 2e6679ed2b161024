//! The WebAssembly host: compiles components, caches them, and runs them as
//! transform stages and sinks under limits.
//!
//! [`WasmHost::inspect`] compiles an uploaded component once, tells which
//! worlds of `wit/` it satisfies, and caches the compiled artifact on disk
//! (keyed by the engine's compatibility hash and the module digest).
//! [`WasmHost::transform`] and [`WasmHost::sink`] give a stage that keeps one
//! pre-instantiated component and one live instance, reused across batches,
//! recycled after a trap or after many calls; `init` runs when the instance
//! is made, or ahead of any batch through the stage's `init` (how a config
//! is checked before a connector is stored, and how a connector faults at
//! its start on a config its component refuses). Each stage carries the
//! [`ModuleOrigin`] it was made from. Every call has a memory limit
//! (all memories and tables of the component together) and a time budget
//! (host calls included). Sinks' outgoing HTTP obeys their `allowHosts` and
//! the node's destination policy; a request outside `allowHosts` ends the
//! call in a [`StageError::DestinationRefused`] naming the entry to add.
//! Compiling an upload logs when it ends and when the artifact is cached.
//! Expected failures come back as [`GuestError`] values; traps and broken
//! limits as [`StageError::Trap`].
//! The code `bindgen!` generates stays in the private `bindings` module.

mod bindings;
mod cache;
mod convert;
mod host_state;
mod identity;
mod instance;
mod limiter;
mod outgoing;
mod stages;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use convert::{EmittedRecord, SinkOutcome, StageOutcome};
pub use identity::GuestIdentity;
pub use stages::{ModuleOrigin, SinkStage, TransformStage};

use cache::ArtifactCache;
pub use cache::InvalidDigest;
use host_state::HostState;
use outgoing::OutgoingHttp;

use crate::outbound::DestinationPolicy;

/// A world of `wit/` a component can satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    /// Filters and transforms.
    Transform,
    /// Custom sinks.
    Sink,
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            World::Transform => "transform",
            World::Sink => "sink",
        })
    }
}

/// Limits of one stage's instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageLimits {
    /// The most memory the instance may have: all of its linear memories
    /// and tables together.
    pub memory_bytes: usize,
    /// The longest one call (init, or one batch) may run, host calls
    /// (outgoing requests, sleeps) included.
    pub call_timeout: Duration,
    /// The instance is replaced by a fresh one after this many calls.
    pub calls_per_instance: u64,
    /// The most bytes of data a transform may emit for one batch.
    pub max_output_bytes: usize,
}

impl Default for StageLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 * 1024 * 1024,
            call_timeout: Duration::from_secs(5),
            calls_per_instance: 10_000,
            max_output_bytes: 16 * 1024 * 1024,
        }
    }
}

/// How bad a guest's failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestErrorKind {
    Retryable,
    InvalidEvent,
    Fatal,
}

/// A failure a component returned as a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({kind:?})")]
pub struct GuestError {
    pub kind: GuestErrorKind,
    pub message: String,
}

/// Why a call into a component did not produce outcomes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    /// `init` refused the stage's config.
    #[error("init failed: {}", .0.message)]
    Init(GuestError),
    /// The call returned an error for the whole batch.
    #[error("{}", .0.message)]
    Batch(GuestError),
    /// A trap, a broken limit, or an answer that breaks the contract.
    #[error("{0}")]
    Trap(String),
    /// An outgoing request went to a host outside `allowHosts` or to a
    /// destination the node's policy refuses.
    #[error("{0}")]
    DestinationRefused(String),
}

/// Why a component cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WasmError {
    #[error("the body is not WebAssembly (it does not start with the `\\0asm` header)")]
    NotWasm,
    #[error("this is a core WebAssembly module, not a component; make a component of it, e.g. with `wasm-tools component new module.wasm -o component.wasm`, or build for `wasm32-wasip2`")]
    CoreModule,
    #[error("the component does not compile: {0}")]
    Compile(String),
    #[error("the component fits neither world of `wit/`: as a transform, {transform}; as a sink, {sink}")]
    NoWorld { transform: String, sink: String },
    #[error("the module is a {found}, not a {expected}")]
    WrongWorld { expected: World, found: String },
    #[error("the compiled-component cache at {path} cannot be used: {message}")]
    Cache { path: String, message: String },
    #[error(transparent)]
    InvalidDigest(#[from] InvalidDigest),
}

/// What [`WasmHost::inspect`] found out about a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    pub worlds: Vec<World>,
}

/// Settings of the host.
#[derive(Debug, Clone)]
pub struct WasmConfig {
    /// Where compiled components are cached.
    pub cache_dir: PathBuf,
    /// Where sink components may send requests.
    pub destinations: Arc<DestinationPolicy>,
}

/// The engine, the linkers of both worlds and the compiled-component cache.
#[derive(Clone)]
pub struct WasmHost {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    cache: ArtifactCache,
    transform_linker: Linker<HostState>,
    sink_linker: Linker<HostState>,
    ticker_stop: Arc<AtomicBool>,
    destinations: Arc<DestinationPolicy>,
    /// Sends sink components' requests (connections shared by all sinks).
    client: reqwest::Client,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl WasmHost {
    pub fn new(config: WasmConfig) -> Result<Self, WasmError> {
        let engine = engine()?;
        let cache =
            ArtifactCache::new(&config.cache_dir, &engine).map_err(|e| WasmError::Cache {
                path: config.cache_dir.display().to_string(),
                message: e.to_string(),
            })?;
        let transform_linker = linker(&engine, false)?;
        let sink_linker = linker(&engine, true)?;
        let client = crate::outbound::client::client_builder(&config.destinations)
            .build()
            .map_err(|e| WasmError::Compile(format!("cannot build the HTTP client: {e}")))?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), Arc::clone(&ticker_stop));
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                cache,
                transform_linker,
                sink_linker,
                ticker_stop,
                destinations: config.destinations,
                client,
            }),
        })
    }

    /// Where sinks may send requests (the node's destination policy).
    pub fn destinations(&self) -> &Arc<DestinationPolicy> {
        &self.inner.destinations
    }

    /// Compiles `bytes`, tells which worlds they satisfy and caches the
    /// compiled artifact under `digest`. CPU-heavy: call it off the async
    /// runtime's threads.
    pub fn inspect(&self, digest: &str, bytes: &[u8]) -> Result<ComponentInfo, WasmError> {
        check_header(bytes)?;
        let started = std::time::Instant::now();
        let component = Component::new(&self.inner.engine, bytes)
            .map_err(|e| WasmError::Compile(format!("{e:#}")))?;
        tracing::info!(%digest, compile_ms = started.elapsed().as_millis() as u64, "component compiled");
        let transform = stages::transform_pre(&self.inner.transform_linker, &component);
        let sink = stages::sink_pre(&self.inner.sink_linker, &component);
        let mut worlds = Vec::new();
        if transform.is_ok() {
            worlds.push(World::Transform);
        }
        if sink.is_ok() {
            worlds.push(World::Sink);
        }
        if worlds.is_empty() {
            return Err(WasmError::NoWorld {
                transform: transform.err().unwrap_or_default(),
                sink: sink.err().unwrap_or_default(),
            });
        }
        self.inner.cache.store(digest, &component)?;
        tracing::info!(%digest, "compiled component cached");
        Ok(ComponentInfo { worlds })
    }

    /// The compiled component for `digest` if this host compiled it before.
    /// A digest that is not `sha256:<64 hex>` names no cached file.
    pub fn cached(&self, digest: &str) -> Option<Component> {
        self.inner
            .cache
            .load(&self.inner.engine, digest)
            .ok()
            .flatten()
    }

    /// The compiled component for `digest`: from the cache, else compiled
    /// from `bytes()` (and cached). CPU-heavy on a cache miss.
    pub fn component(
        &self,
        digest: &str,
        bytes: impl FnOnce() -> Vec<u8>,
    ) -> Result<Component, WasmError> {
        if let Some(component) = self.inner.cache.load(&self.inner.engine, digest)? {
            return Ok(component);
        }
        let bytes = bytes();
        check_header(&bytes)?;
        let component = Component::new(&self.inner.engine, &bytes)
            .map_err(|e| WasmError::Compile(format!("{e:#}")))?;
        self.inner.cache.store(digest, &component)?;
        Ok(component)
    }

    /// A transform stage running `component`.
    pub fn transform(
        &self,
        component: &Component,
        identity: GuestIdentity,
        config: String,
        limits: StageLimits,
    ) -> Result<TransformStage, WasmError> {
        let pre =
            stages::transform_pre(&self.inner.transform_linker, component).map_err(|found| {
                WasmError::WrongWorld {
                    expected: World::Transform,
                    found,
                }
            })?;
        Ok(TransformStage::new(
            self.inner.engine.clone(),
            pre,
            identity,
            config,
            limits,
        ))
    }

    /// A sink stage running `component`, allowed to reach `allow_hosts`.
    pub fn sink(
        &self,
        component: &Component,
        identity: GuestIdentity,
        config: String,
        limits: StageLimits,
        allow_hosts: Vec<String>,
    ) -> Result<SinkStage, WasmError> {
        let pre = stages::sink_pre(&self.inner.sink_linker, component).map_err(|found| {
            WasmError::WrongWorld {
                expected: World::Sink,
                found,
            }
        })?;
        Ok(SinkStage::new(
            self.inner.engine.clone(),
            pre,
            identity,
            config,
            limits,
            OutgoingHttp {
                allow_hosts,
                policy: Arc::clone(&self.inner.destinations),
                client: self.inner.client.clone(),
            },
        ))
    }
}

/// How many component instances may be alive at once on this node.
pub const MAX_INSTANCES: u32 = 200;

/// The engine: component model, epoch interruption, and the pooling
/// allocator (memories and tables reserved up front, instances capped at
/// [`MAX_INSTANCES`]) when the machine's address space allows it, else
/// on-demand allocation.
fn engine() -> Result<Engine, WasmError> {
    let base = || {
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        config
    };
    let mut pooled = base();
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 20)
        .total_memories(MAX_INSTANCES * 2)
        .total_tables(MAX_INSTANCES * 20)
        .max_core_instances_per_component(64)
        .max_memories_per_component(16)
        .max_tables_per_component(64)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(1 << 20)
        .table_elements(100_000)
        .max_memory_size(4 << 30);
    pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&pooled) {
        Ok(engine) => Ok(engine),
        Err(e) => {
            tracing::warn!(error = %e, "the pooling allocator is not available here; allocating instances on demand");
            Engine::new(&base())
                .map_err(|e| WasmError::Compile(format!("cannot create the engine: {e}")))
        }
    }
}

/// Tells a component from a core module or from anything else.
fn check_header(bytes: &[u8]) -> Result<(), WasmError> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(WasmError::NotWasm);
    }
    match bytes[4..8] {
        [1, 0, 0, 0] => Err(WasmError::CoreModule),
        _ => Ok(()),
    }
}

/// WASI with nothing granted (the store's context decides), the logging
/// import, and for sinks outgoing HTTP.
fn linker(engine: &Engine, http: bool) -> Result<Linker<HostState>, WasmError> {
    let build = || -> wasmtime::Result<Linker<HostState>> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::logging::add_to_linker::<HostState, HasSelf>(&mut linker, |s| s)?;
        if http {
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        }
        Ok(linker)
    };
    build().map_err(|e| WasmError::Compile(format!("cannot set up the host functions: {e}")))
}

type HasSelf = wasmtime::component::HasSelf<HostState>;

/// Advances the engine's epoch every tick so time budgets are enforced.
fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(instance::EPOCH_TICK);
                engine.increment_epoch();
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the epoch ticker: component time budgets are not enforced");
    }
}
