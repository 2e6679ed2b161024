//! How the member's view is kept up to date after it was read whole when
//! the member joined ([`super::view::View::load`]): event by event from the subscription
//! ([`Cluster::take_in`]): a heartbeat updates its member, an owner record
//! its connector's owner, an event of `$connectors` or `$connectors/{id}`
//! makes the connector be read again (one that cannot be read for now is
//! tried again at the next tick).

use tokio::time::Instant;

use super::members::Heartbeat;
use super::ownership::{owned_connector, Owner};
use super::reconciler::Cluster;
use super::view::Known;
use crate::connector::{CommandError, ConnectorId};
use crate::store::RecordedEvent;

impl Cluster {
    /// Takes one coordination event into the view.
    pub(super) async fn take_in(&self, event: RecordedEvent) {
        if let Some(heartbeat) = Heartbeat::from_recorded(&event) {
            self.view().members.record(heartbeat, Instant::now());
            return;
        }
        if let Some(id) = owned_connector(&event.stream) {
            if let Some(owner) = Owner::from_recorded(&event) {
                self.view().take_owner(id, owner);
            }
            return;
        }
        let id = if event.stream == "$connectors" {
            serde_json::from_slice::<serde_json::Value>(&event.data)
                .ok()
                .and_then(|v| v.get("id")?.as_str().map(str::to_owned))
                .and_then(|id| ConnectorId::parse(&id).ok())
        } else {
            event
                .stream
                .strip_prefix("$connectors/")
                .and_then(|id| ConnectorId::parse(id).ok())
        };
        if let Some(id) = id {
            self.reload(id).await;
        }
    }

    /// Reads the connector's state again.
    async fn reload(&self, id: ConnectorId) {
        let loaded = self.repository.load(&id).await;
        let mut view = self.view();
        view.stale.remove(&id);
        match loaded {
            Ok(Some(state)) => {
                view.connectors.insert(id, Known::Readable(Box::new(state)));
            }
            Ok(None) => {
                view.connectors.remove(&id);
            }
            Err(e @ CommandError::Corrupt { .. }) => {
                tracing::error!(connector = %id, reason = %e, "connector cannot be read and does not run");
                view.connectors.insert(id, Known::Unreadable);
            }
            Err(e) => {
                tracing::warn!(connector = %id, error = %e, "could not read the connector; trying again");
                view.stale.insert(id);
            }
        }
    }

    pub(super) async fn reload_stale(&self) {
        let stale: Vec<ConnectorId> = self.view().stale.iter().cloned().collect();
        for id in stale {
            self.reload(id).await;
        }
    }
}
