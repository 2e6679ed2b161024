use serde::{Deserialize, Serialize};

use super::{ConnectorDefinition, StartFrom};
use crate::store::{ContentType, NewEvent, Position, RecordedEvent};

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
        /// Where the log ended when a round starting at the `end` began (as
        /// for `Reset`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end_at: Option<Position>,
        /// A name for people, e.g. `Orders to the billing webhook`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Reconfigured {
        definition: ConnectorDefinition,
    },
    Enabled,
    Disabled,
    Reset {
        round: u64,
        to: StartFrom,
        /// Where the log ended when the command was accepted, for `to: end`:
        /// the round's start is kept here, in the connector's own stream,
        /// where no checkpoint of an older round can evict it. Absent in
        /// events written before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end_at: Option<Position>,
    },
    Deleted,
    /// Its name for people changed; what runs does not.
    Renamed {
        name: String,
    },
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
            ConnectorEvent::Renamed { .. } => "$ConnectorRenamed",
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
            "Renamed" => "renamed",
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

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    fn recorded(event: &NewEvent) -> RecordedEvent {
        RecordedEvent {
            id: event.id,
            stream: "$connectors/c".into(),
            revision: 0,
            position: Position::new(1, 1),
            event_type: event.event_type.clone(),
            content_type: event.content_type,
            created: Utc::now(),
            data: event.data.clone(),
            metadata: event.metadata.clone(),
        }
    }

    #[test]
    fn every_event_round_trips_through_the_store_shape() {
        let definition: ConnectorDefinition =
            serde_json::from_value(json!({ "sink": { "type": "console" }, "start": 7 }))
                .expect("definition");
        let events = [
            ConnectorEvent::Created {
                definition: definition.clone(),
                enabled: true,
                round: 3,
                end_at: None,
                name: Some("Orders".into()),
            },
            ConnectorEvent::Reconfigured { definition },
            ConnectorEvent::Enabled,
            ConnectorEvent::Disabled,
            ConnectorEvent::Reset {
                round: 4,
                to: StartFrom::End,
                end_at: Some(Position::new(9, 9)),
            },
            ConnectorEvent::Deleted,
            ConnectorEvent::Renamed {
                name: "Orders to billing".into(),
            },
        ];
        for event in events {
            let stored = recorded(&event.to_new_event());
            assert!(
                stored.is_system(),
                "{} is a system event",
                stored.event_type
            );
            let parsed = ConnectorEvent::from_recorded(&stored)
                .expect("known type")
                .expect("parses");
            assert_eq!(parsed, event);
        }
    }

    #[test]
    fn unknown_types_are_skipped() {
        let stored = recorded(&NewEvent::json("$ConnectorArchived", &json!({})));
        assert!(ConnectorEvent::from_recorded(&stored).is_none());
    }
}
