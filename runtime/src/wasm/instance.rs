//! One reusable component instance per stage: created on first use (from a
//! pre-instantiated component), initialised with the stage's config, reused
//! across batches, and recycled after a trap or after many calls. Every call
//! runs under the stage's memory limit (all memories together) and time
//! budget: epoch interruption stops busy guest code, and the whole call,
//! host calls such as outgoing requests included, is abandoned when the
//! budget is spent (the instance is then dropped, as after a trap).
//! Traps (and spent budgets) and instances created again are counted in
//! the identity's [`InstanceCounters`](crate::metrics::InstanceCounters).

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::Func;
use wasmtime::{Engine, Store, UpdateDeadline};

use super::host_state::HostState;
use super::identity::GuestIdentity;
use super::outgoing::OutgoingHttp;
use super::{GuestError, GuestErrorKind, StageError, StageLimits};

/// The parts of a world's bindings the instance manager needs.
pub(super) trait Bindings: Sized + Send {
    type Pre: Clone + Send + Sync;

    /// Instantiates the component: its bindings, and the export a batch
    /// is passed to (called with borrowed events, see `convert`).
    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> impl std::future::Future<Output = wasmtime::Result<(Self, Func)>> + Send;

    fn init(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> impl std::future::Future<Output = wasmtime::Result<Result<(), GuestError>>> + Send;
}

struct Live {
    store: Store<HostState>,
    /// The export that takes a batch (the bindings are needed only for
    /// `init`).
    batch: Func,
    calls: u64,
}

/// A stage's instance slot.
pub(super) struct Instance<B: Bindings> {
    engine: Engine,
    pre: B::Pre,
    identity: Arc<GuestIdentity>,
    config: String,
    limits: StageLimits,
    outgoing: Option<Arc<OutgoingHttp>>,
    live: Option<Live>,
    /// An instance was created before: the next one is a restart.
    created_before: bool,
    /// The world whose bindings `init` is called through.
    world: std::marker::PhantomData<B>,
}

/// The epoch advances this often; time budgets are counted in it.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(10);

impl<B: Bindings> Instance<B> {
    pub fn new(
        engine: Engine,
        pre: B::Pre,
        identity: GuestIdentity,
        config: String,
        limits: StageLimits,
        outgoing: Option<Arc<OutgoingHttp>>,
    ) -> Self {
        Self {
            engine,
            pre,
            identity: Arc::new(identity),
            config,
            limits,
            outgoing,
            live: None,
            created_before: false,
            world: std::marker::PhantomData,
        }
    }

    fn new_store(&self) -> Store<HostState> {
        let state = HostState::new(
            Arc::clone(&self.identity),
            self.limits.memory_bytes,
            self.outgoing.clone(),
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store
    }

    /// Sets the time budget of the next call.
    fn arm(store: &mut Store<HostState>, budget: Duration) {
        let deadline = Instant::now() + budget;
        store.data_mut().start_call(deadline);
        store.set_epoch_deadline(1);
        // Yield to the async runtime on every tick so a busy guest never
        // holds a worker thread, and trap once the budget is spent.
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::msg(format!(
                    "the call exceeded its time budget of {} ms",
                    budget.as_millis()
                )))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
    }

    /// Creates and initialises the instance now, if it is not live yet, so
    /// a config `init` refuses is found before any event arrives.
    pub async fn ensure_live(&mut self) -> Result<(), StageError> {
        if self.live.is_some() {
            return Ok(());
        }
        if std::mem::replace(&mut self.created_before, true) {
            self.identity.counters.restarts.inc();
        }
        let result = self.instantiate().await;
        if matches!(result, Err(StageError::Trap(_))) {
            self.identity.counters.traps.inc();
        }
        result
    }

    async fn instantiate(&mut self) -> Result<(), StageError> {
        let budget = self.limits.call_timeout;
        let mut store = self.new_store();
        Self::arm(&mut store, budget);
        let (bindings, batch) = within(
            budget,
            "instantiating",
            B::instantiate(&self.pre, &mut store),
        )
        .await?
        .map_err(|e| StageError::Trap(describe(&e, "instantiating")))?;
        Self::arm(&mut store, budget);
        let init = within(budget, "init", bindings.init(&mut store, &self.config)).await;
        if let Some(reason) = store.data_mut().take_refusal() {
            return Err(StageError::DestinationRefused(reason));
        }
        match init? {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(StageError::Init(e)),
            Err(e) => return Err(StageError::Trap(describe(&e, "init"))),
        }
        self.live = Some(Live {
            store,
            batch,
            calls: 0,
        });
        Ok(())
    }

    /// Runs `call` with the batch export and `input` on the live instance
    /// (creating it first if needed). A trap, a spent budget or a refused
    /// destination drops the instance so the next call starts from a fresh
    /// one.
    pub async fn call<I, R, F>(&mut self, what: &str, input: &I, call: F) -> Result<R, StageError>
    where
        I: ?Sized + Sync,
        F: for<'a> FnOnce(
            &'a Func,
            &'a mut Store<HostState>,
            &'a I,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = wasmtime::Result<R>> + Send + 'a>,
        >,
    {
        self.ensure_live().await?;
        let budget = self.limits.call_timeout;
        let max_calls = self.limits.calls_per_instance;
        let Some(live) = self.live.as_mut() else {
            return Err(StageError::Trap("no instance".into()));
        };
        Self::arm(&mut live.store, budget);
        let result = within(budget, what, call(&live.batch, &mut live.store, input)).await;
        live.calls += 1;
        if let Some(reason) = live.store.data_mut().take_refusal() {
            self.live = None;
            return Err(StageError::DestinationRefused(reason));
        }
        let result = match result {
            Ok(result) => result,
            Err(spent) => {
                self.live = None;
                self.identity.counters.traps.inc();
                return Err(spent);
            }
        };
        match result {
            Ok(value) => {
                if live.calls >= max_calls {
                    self.live = None;
                }
                Ok(value)
            }
            Err(e) => {
                self.live = None;
                self.identity.counters.traps.inc();
                Err(StageError::Trap(describe(&e, what)))
            }
        }
    }
}

/// Runs `call` for at most `budget`, host calls included; a call still
/// running then is dropped (its instance must not be used again).
async fn within<T>(
    budget: Duration,
    what: &str,
    call: impl std::future::Future<Output = T>,
) -> Result<T, StageError> {
    tokio::time::timeout(budget, call).await.map_err(|_| {
        StageError::Trap(format!(
            "the component exceeded its time budget of {} ms in `{what}` (`limits.timeoutMs`; time spent waiting in host calls such as outgoing requests counts)",
            budget.as_millis()
        ))
    })
}

/// A trap or host error as one line: what was running and why it stopped
/// (the trap's reason, not the wasm backtrace, which stays in the log).
fn describe(error: &wasmtime::Error, what: &str) -> String {
    tracing::debug!(error = ?error, "component call failed");
    let reason = match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => {
            let mut root = error.to_string();
            let mut source = error.source();
            while let Some(cause) = source {
                root = cause.to_string();
                source = cause.source();
            }
            root
        }
    };
    format!(
        "the component trapped in `{what}`: {}",
        reason.lines().next().unwrap_or_default()
    )
}

impl From<super::bindings::types::Error> for GuestError {
    fn from(e: super::bindings::types::Error) -> Self {
        use super::bindings::types::ErrorKind;
        Self {
            kind: match e.kind {
                ErrorKind::Retryable => GuestErrorKind::Retryable,
                ErrorKind::InvalidEvent => GuestErrorKind::InvalidEvent,
                ErrorKind::Fatal => GuestErrorKind::Fatal,
            },
            message: e.message,
        }
    }
}
