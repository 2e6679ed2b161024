//! The [`Cluster`]: this member's view of the cluster, kept up to date from
//! the store, and the loop that acts on it.
//!
//! The loop takes in every coordination event ([`super::watch`]), then
//! [`decide`]s and spawns one task per action, so a connector that is slow
//! to stop holds up no other; a connector with an action in progress is
//! left alone until it is done. A tick every heartbeat interval catches what
//! time alone changes: a member whose lease ran out, this member's own
//! lease lapsing.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::config::ClusterConfig;
use super::decide::{decide, Action};
use super::lease::Lease;
use super::members::Members;
use super::ownership::{Owner, Ownership};
use super::supervisor::{RunKey, Supervisor};
use super::view::{Known, Me, View};
use super::watch;
use crate::connector::{
    CommandError, ConnectorId, ConnectorRepository, ConnectorState, MemberRole,
};
use crate::pipeline::Tenure;
use crate::sinks::OwnerTag;
use crate::store::{RecordedEvent, StoreError, SubscribeFrom};

/// How long a pipeline that may no longer deliver gets to end.
const FENCED_STOP_GRACE: Duration = Duration::from_millis(200);
/// How long a graceful leave waits for actions in progress, and for its
/// releases to be stored.
const LEAVE_WAIT: Duration = Duration::from_secs(5);
/// How long a graceful leave waits for each of its tasks to end, and for
/// its last heartbeat to be stored.
const TASK_END_WAIT: Duration = Duration::from_secs(2);

/// This member of the cluster.
pub struct Cluster {
    pub(super) config: ClusterConfig,
    /// Who this member is; its role is in `role`, which can change.
    pub(super) me: Me,
    role: Mutex<MemberRole>,
    pub(super) repository: ConnectorRepository,
    pub(super) supervisor: Arc<Supervisor>,
    pub(super) lease: Arc<Lease>,
    view: Mutex<View>,
    wake: Notify,
    /// Bumped whenever the view or what runs here changed.
    changed: tokio::sync::watch::Sender<u64>,
    cancel: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    pub(super) beats: AtomicU64,
}

impl Cluster {
    /// Loads the view (members, connectors, owners), stores a first
    /// heartbeat, and starts following the store and reconciling.
    pub async fn start(
        config: ClusterConfig,
        repository: ConnectorRepository,
        supervisor: Arc<Supervisor>,
    ) -> Result<Arc<Self>, CommandError> {
        let store = Arc::clone(repository.store());
        if let Err(e) = Members::bound_stream(store.as_ref()).await {
            tracing::warn!(error = %e, "could not set $maxCount / $maxAge on the membership stream");
        }
        let from = match store.head_position().await? {
            Some(head) => SubscribeFrom::After(head),
            None => SubscribeFrom::Start,
        };
        let view = View::load(&repository, config.lease).await?;
        let me = Me {
            name: config.member.clone(),
            incarnation: Uuid::new_v4(),
            role: config.role,
            runs_connectors: config.runs_connectors,
            lease: config.lease,
        };
        let cluster = Arc::new(Self {
            lease: Lease::new(config.fence_after()),
            role: Mutex::new(config.role),
            config,
            me,
            repository,
            supervisor,
            view: Mutex::new(view),
            wake: Notify::new(),
            changed: tokio::sync::watch::channel(0).0,
            cancel: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
            beats: AtomicU64::new(0),
        });
        cluster.send_heartbeat(false).await?;
        let (events_tx, events_rx) = mpsc::channel(1024);
        let mut tasks = vec![
            tokio::spawn(watch::follow(
                store,
                from,
                events_tx,
                cluster.cancel.clone(),
            )),
            tokio::spawn(Arc::clone(&cluster).heartbeats()),
            tokio::spawn(Arc::clone(&cluster).run(events_rx)),
        ];
        if let Some(source) = cluster.config.role_source.clone() {
            tasks.push(tokio::spawn(Arc::clone(&cluster).follow_role(source)));
        }
        *cluster.tasks.lock().unwrap_or_else(|p| p.into_inner()) = tasks;
        tracing::info!(
            member = %cluster.me.name,
            role = %cluster.role(),
            incarnation = %cluster.me.incarnation,
            runs_connectors = cluster.me.runs_connectors,
            heartbeat_ms = cluster.config.heartbeat.as_millis() as u64,
            lease_ms = cluster.config.lease.as_millis() as u64,
            "joined the cluster"
        );
        Ok(cluster)
    }

    /// This member's role now.
    pub fn role(&self) -> MemberRole {
        *self.role.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the role; returns the previous one.
    pub(super) fn set_role(&self, role: MemberRole) -> MemberRole {
        std::mem::replace(
            &mut *self.role.lock().unwrap_or_else(|p| p.into_inner()),
            role,
        )
    }

    /// This member as the view needs it, with its role now.
    pub(super) fn me(&self) -> Me {
        Me {
            role: self.role(),
            ..self.me.clone()
        }
    }

    pub(super) fn view(&self) -> std::sync::MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn supervisor(&self) -> &Arc<Supervisor> {
        &self.supervisor
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Completes once the member leaves.
    pub(super) async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits (up to `timeout`) until this member has taken in the
    /// connector's `revision` and finished what it does about it, so an
    /// answer to a command shows its outcome here.
    pub async fn settled(&self, id: &ConnectorId, revision: u64, timeout: Duration) {
        let mut changed = self.changed.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            let done = {
                let view = self.view();
                let seen = match view.connectors.get(id) {
                    Some(Known::Readable(state)) => state.revision >= revision,
                    Some(Known::Unreadable) => true,
                    None => false,
                };
                seen && !view.busy.contains(id)
            };
            if done {
                return;
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return;
            }
        }
    }

    async fn run(self: Arc<Self>, mut events: mpsc::Receiver<RecordedEvent>) {
        let mut tick = tokio::time::interval(self.config.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                event = events.recv() => {
                    let Some(event) = event else { return };
                    self.take_in(event).await;
                    while let Ok(event) = events.try_recv() {
                        self.take_in(event).await;
                    }
                }
                _ = tick.tick() => self.reload_stale().await,
                _ = self.wake.notified() => {}
            }
            self.reconcile();
        }
    }

    /// Decides, and spawns one task per action.
    fn reconcile(self: &Arc<Self>) {
        let term = self.lease.term();
        let runs = self.supervisor.run_infos();
        let actions = {
            let mut view = self.view();
            let actions = decide(&view, &self.me(), term, &runs, Instant::now());
            for action in &actions {
                view.busy.insert(action.connector().clone());
            }
            actions
        };
        for action in actions {
            let cluster = Arc::clone(self);
            tokio::spawn(async move {
                let id = action.connector().clone();
                cluster.act(action, term).await;
                cluster.view().busy.remove(&id);
                cluster.wake();
                cluster.bump();
            });
        }
        self.bump();
    }

    async fn act(&self, action: Action, term: Option<u64>) {
        let ownership = Ownership {
            store: self.repository.store().as_ref(),
        };
        match action {
            Action::Start { state, epoch } => {
                if let Some(term) = term {
                    self.start_pipeline(&state, epoch, term).await;
                }
            }
            Action::Claim { state, after } => {
                let Some(term) = term else { return };
                let claimed = ownership
                    .claim(
                        &state.id,
                        after.as_ref(),
                        &self.me.name,
                        self.me.incarnation,
                    )
                    .await;
                match claimed {
                    Ok(owner) => {
                        let epoch = owner.revision;
                        tracing::info!(connector = %state.id, epoch, previous = ?after.as_ref().and_then(|o| o.holder()).map(|h| h.0), "claimed the connector");
                        {
                            let mut view = self.view();
                            view.take_owner(state.id.clone(), owner);
                            view.claims.insert(state.id.clone(), (epoch, term));
                        }
                        self.start_pipeline(&state, epoch, term).await;
                    }
                    Err(e) => self.after_refused_write(&state.id, "claim", e).await,
                }
            }
            Action::Stop {
                id,
                graceful,
                forget,
            } => {
                let grace = (!graceful).then_some(FENCED_STOP_GRACE);
                self.supervisor.stop(&id, grace, forget).await;
                if forget {
                    if let Err(e) = self.repository.forget_streams(&id).await {
                        tracing::warn!(connector = %id, error = %e, "could not delete the checkpoints and dead letters of a deleted connector");
                    }
                }
            }
            Action::Release { id, owner } => {
                self.supervisor.stop(&id, None, false).await;
                self.release(&ownership, &id, &owner).await;
            }
        }
    }

    async fn release(&self, ownership: &Ownership<'_>, id: &ConnectorId, owner: &Owner) {
        match ownership
            .release(id, owner, &self.me.name, self.me.incarnation)
            .await
        {
            Ok(released) => {
                tracing::info!(connector = %id, "released the connector for another member to run");
                let mut view = self.view();
                view.take_owner(id.clone(), released);
                view.claims.remove(id);
            }
            Err(e) => self.after_refused_write(id, "release", e).await,
        }
    }

    /// A claim or release refused: another record came first (read it), or
    /// the store failed (tried again at the next change or tick).
    async fn after_refused_write(&self, id: &ConnectorId, what: &str, error: StoreError) {
        if !matches!(error, StoreError::WrongExpectedRevision { .. }) {
            tracing::warn!(connector = %id, error = %error, "could not {what} the connector");
        }
        let ownership = Ownership {
            store: self.repository.store().as_ref(),
        };
        match ownership.current(id).await {
            Ok(Some(owner)) => self.view().take_owner(id.clone(), owner),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(connector = %id, error = %e, "could not read the connector's owner")
            }
        }
    }

    async fn start_pipeline(&self, state: &ConnectorState, epoch: u64, term: u64) {
        let lease = Arc::clone(&self.lease);
        let tenure = Tenure::new(
            OwnerTag {
                member: self.me.name.clone(),
                epoch,
            },
            move || lease.until(term),
        );
        let key = RunKey {
            revision: state.pipeline_revision,
            epoch,
            term,
        };
        self.supervisor.start(state, key, tenure).await;
    }

    /// Stops every pipeline (each checkpoints what it delivered), releases
    /// every connector held here and stores a last heartbeat saying this
    /// member leaves, so others take over at once.
    pub async fn leave(&self) {
        self.cancel.cancel();
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for mut task in tasks {
            // A task waiting on a store that does not answer is cut short.
            if tokio::time::timeout(TASK_END_WAIT, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        let deadline = Instant::now() + LEAVE_WAIT;
        while !self.view().busy.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.supervisor.stop_all().await;
        let held: Vec<(ConnectorId, Owner)> = self
            .view()
            .owners
            .iter()
            .filter(|(_, o)| o.holder() == Some((self.me.name.as_str(), self.me.incarnation)))
            .map(|(id, o)| (id.clone(), o.clone()))
            .collect();
        let ownership = Ownership {
            store: self.repository.store().as_ref(),
        };
        let releases = held
            .iter()
            .map(|(id, owner)| self.release(&ownership, id, owner));
        // Without the store, others take over once the lease runs out.
        let released = tokio::time::timeout(LEAVE_WAIT, futures::future::join_all(releases)).await;
        let said = tokio::time::timeout(TASK_END_WAIT, self.send_heartbeat(true)).await;
        match (released, said) {
            (Ok(_), Ok(Ok(()))) => {
                tracing::info!(member = %self.me.name, released = held.len(), "left the cluster");
            }
            (_, Ok(Err(e))) => {
                tracing::warn!(error = %e, "could not tell the cluster this member leaves; the others take over once its lease runs out");
            }
            _ => {
                tracing::warn!("the store did not answer in time; the others take over this member's connectors once its lease runs out");
            }
        }
    }
}
