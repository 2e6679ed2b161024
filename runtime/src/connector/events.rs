use serde::{Deserialize, Serialize};

use super::{ConnectorDefinition, StartFrom};
use crate::store::{ContentType, NewEvent, RecordedEvent};

/// Every connector event type starts with this, so connectors never deliver
/// the runtime's own bookkeeping unless asked to include system events.
pub const EVENT_TYPE_PREFIX: &str = "$Connector";

/// What can happen to a connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConnectorEvent {
    Created {
        definition: ConnectorDefinition,
        enabled: bool,
        /// Checkpoints of earlier rounds (a connector deleted and created
        /// again under the same id) are ignored.
        round: u64,
    },
    Reconfigured {
        definition: ConnectorDefinition,
    },
    Enabled,
    Disabled,
    Reset {
        round: u64,
        to: StartFrom,
    },
    Deleted,
}

impl ConnectorEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            ConnectorEvent::Created { .. } => "$ConnectorCreated",
            ConnectorEvent::Reconfigured { .. } => "$ConnectorReconfigured",
            ConnectorEvent::Enabled => "$ConnectorEnabled",
            ConnectorEvent::Disabled => "$ConnectorDisabled",
            ConnectorEvent::Reset { .. } => "$ConnectorReset",
            ConnectorEvent::Deleted => "$ConnectorDeleted",
        }
    }

    pub fn to_new_event(&self) -> NewEvent {
        // The payload is the variant's body; the variant is the event type.
        let body = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => {
                map.into_iter().next().map(|(_, v)| v).unwrap_or_default()
            }
            _ => serde_json::Value::Object(Default::default()),
        };
        NewEvent::json(self.event_type(), &body)
    }

    /// Parses a stored event; `None` for types this version does not know.
    pub fn from_recorded(event: &RecordedEvent) -> Option<Result<Self, serde_json::Error>> {
        let name = event.event_type.strip_prefix(EVENT_TYPE_PREFIX)?;
        if event.content_type != ContentType::Json {
            return None;
        }
        let variant = match name {
            "Created" => "created",
            "Reconfigured" => "reconfigured",
            "Enabled" => return Some(Ok(ConnectorEvent::Enabled)),
            "Disabled" => return Some(Ok(ConnectorEvent::Disabled)),
            "Reset" => "reset",
            "Deleted" => return Some(Ok(ConnectorEvent::Deleted)),
            _ => return None,
        };
        let body: serde_json::Value = match serde_json::from_slice(&event.data) {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        };
        let mut map = serde_json::Map::new();
        map.insert(variant.to_owned(), body);
        Some(serde_json::from_value(serde_json::Value::Object(map)))
    }
}
