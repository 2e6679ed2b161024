//! The supervisor with a sink that never finishes starting: a connector
//! that is slow to stop holds up no other, and a stop ends the pipeline.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;

use super::*;
use crate::connector::{ConnectorId, StartFrom, TransformConfig};
use crate::outbound::DestinationPolicy;
use crate::pipeline::StageBuildError;
use crate::sinks::wasm::WasmSinkConfig;
use crate::store::embedded::SqliteStore;
use crate::wasm::{GuestIdentity, SinkStage, TransformStage};

/// Builds custom sinks that never finish starting and do not heed a stop.
#[derive(Default)]
struct HangingSinks {
    entered: Arc<AtomicBool>,
    dropped: Arc<AtomicBool>,
}

/// Sets its flag when the hanging sink's start is dropped (its task ended).
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl StageFactory for HangingSinks {
    async fn transform(
        &self,
        _identity: GuestIdentity,
        _config: &TransformConfig,
    ) -> Result<TransformStage, StageBuildError> {
        Err(StageBuildError::Other(
            "no transforms in these tests".to_owned(),
        ))
    }

    async fn sink(
        &self,
        _identity: GuestIdentity,
        _config: &WasmSinkConfig,
    ) -> Result<SinkStage, StageBuildError> {
        let _flag = DropFlag(Arc::clone(&self.dropped));
        self.entered.store(true, Ordering::SeqCst);
        std::future::pending().await
    }

    fn destinations(&self) -> Arc<DestinationPolicy> {
        Arc::new(DestinationPolicy::default())
    }
}

fn connector(id: &str, sink: serde_json::Value, enabled: bool, revision: u64) -> ConnectorState {
    ConnectorState {
        id: ConnectorId::parse(id).expect("id"),
        name: None,
        definition: serde_json::from_value(json!({ "sink": sink })).expect("definition"),
        enabled,
        deleted: false,
        round: 1,
        round_start: StartFrom::Start,
        revision,
        pipeline_revision: revision,
        incarnation: 0,
        created: Utc::now(),
        updated: Utc::now(),
        defined: Utc::now(),
    }
}

fn hanging(id: &str, enabled: bool, revision: u64) -> ConnectorState {
    connector(
        id,
        json!({ "type": "wasm", "module": "hangs" }),
        enabled,
        revision,
    )
}

fn supervisor(dir: &tempfile::TempDir, sinks: Arc<HangingSinks>) -> Supervisor {
    let store = SqliteStore::open(&dir.path().join("events.db")).expect("store");
    Supervisor::new(ConnectorRepository::new(Arc::new(store)), sinks)
}

fn state_of(supervisor: &Supervisor, id: &str) -> Option<RunState> {
    let id = ConnectorId::parse(id).expect("id");
    let statuses = supervisor.statuses.lock().expect("statuses");
    statuses.get(&id).map(|status| status.state())
}

fn key(revision: u64) -> RunKey {
    RunKey {
        revision,
        epoch: 0,
        term: 1,
    }
}

async fn start(supervisor: &Supervisor, state: ConnectorState) {
    let key = key(state.revision);
    supervisor.start(&state, key, Tenure::unconditional()).await;
}

fn id(name: &str) -> ConnectorId {
    ConnectorId::parse(name).expect("id")
}

async fn wait_until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn a_connector_starts_while_another_is_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sinks = Arc::new(HangingSinks::default());
    let supervisor = Arc::new(supervisor(&dir, Arc::clone(&sinks)));
    start(&supervisor, hanging("stuck", true, 1)).await;
    wait_until("the sink is starting", || {
        sinks.entered.load(Ordering::SeqCst)
    })
    .await;

    let stopping = tokio::spawn({
        let supervisor = Arc::clone(&supervisor);
        async move { supervisor.stop(&id("stuck"), None, false).await }
    });
    wait_until("the stuck connector is stopping", || {
        state_of(&supervisor, "stuck") == Some(RunState::Stopping)
    })
    .await;

    start(
        &supervisor,
        connector("other", json!({ "type": "console" }), true, 1),
    )
    .await;
    assert!(
        state_of(&supervisor, "other").is_some(),
        "the other connector has started"
    );
    assert_eq!(
        state_of(&supervisor, "stuck"),
        Some(RunState::Stopping),
        "the other connector started while the stuck one was still stopping"
    );
    stopping.abort();
}

#[tokio::test]
async fn a_stopped_pipeline_has_ended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sinks = Arc::new(HangingSinks::default());
    let mut supervisor = supervisor(&dir, Arc::clone(&sinks));
    supervisor.stop_grace = Duration::from_millis(50);
    start(&supervisor, hanging("stuck", true, 1)).await;
    wait_until("the sink is starting", || {
        sinks.entered.load(Ordering::SeqCst)
    })
    .await;

    supervisor.stop(&id("stuck"), None, false).await;
    assert!(
        sinks.dropped.load(Ordering::SeqCst),
        "the pipeline's task had ended when its stop returned"
    );
    assert_eq!(state_of(&supervisor, "stuck"), Some(RunState::Disabled));
}
