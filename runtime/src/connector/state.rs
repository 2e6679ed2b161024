use chrono::{DateTime, Utc};

use super::{ConnectorDefinition, ConnectorEvent, ConnectorId, StartFrom};

/// A connector as its events describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorState {
    pub id: ConnectorId,
    pub definition: ConnectorDefinition,
    pub enabled: bool,
    pub deleted: bool,
    /// Grows with every reset (and re-creation); checkpoints of other rounds
    /// are ignored.
    pub round: u64,
    /// Where the current round starts when it has no checkpoint yet.
    pub round_start: StartFrom,
    /// The revision of the connector's stream after its last event.
    pub revision: u64,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

impl ConnectorState {
    /// Folds the connector's events, in order; `None` before it was created.
    pub fn fold<'a>(
        id: &ConnectorId,
        events: impl IntoIterator<Item = (u64, DateTime<Utc>, &'a ConnectorEvent)>,
    ) -> Option<Self> {
        let mut state: Option<Self> = None;
        for (revision, at, event) in events {
            state = match (state.take(), event) {
                (
                    _,
                    ConnectorEvent::Created {
                        definition,
                        enabled,
                        round,
                    },
                ) => Some(Self {
                    id: id.clone(),
                    definition: definition.clone(),
                    enabled: *enabled,
                    deleted: false,
                    round: *round,
                    round_start: definition.start,
                    revision,
                    created: at,
                    updated: at,
                }),
                (None, _) => None,
                (Some(mut s), event) => {
                    s.apply(event);
                    s.revision = revision;
                    s.updated = at;
                    Some(s)
                }
            };
        }
        state
    }

    fn apply(&mut self, event: &ConnectorEvent) {
        match event {
            ConnectorEvent::Created { .. } => {}
            ConnectorEvent::Reconfigured { definition } => {
                self.definition = definition.clone();
            }
            ConnectorEvent::Enabled => self.enabled = true,
            ConnectorEvent::Disabled => self.enabled = false,
            ConnectorEvent::Reset { round, to } => {
                self.round = *round;
                self.round_start = *to;
            }
            ConnectorEvent::Deleted => {
                self.deleted = true;
                self.enabled = false;
            }
        }
    }

    /// Whether a pipeline should run for it.
    pub fn should_run(&self) -> bool {
        self.enabled && !self.deleted
    }
}

/// What a client asks of a connector.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Create {
        definition: ConnectorDefinition,
        enable: bool,
    },
    Reconfigure {
        definition: ConnectorDefinition,
    },
    Enable,
    Disable,
    Reset {
        to: StartFrom,
    },
    Delete,
}

/// What a command comes to against the current state.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Append these events.
    Append(Vec<ConnectorEvent>),
    /// The connector does not exist (or was deleted).
    NotFound,
    /// A connector with this id already exists.
    AlreadyExists,
}

impl Command {
    /// Decides the events `self` produces against `state` (`None` = never
    /// created).
    pub fn decide(self, state: Option<&ConnectorState>) -> Decision {
        let live = state.filter(|s| !s.deleted);
        match (self, live) {
            (Command::Create { definition, enable }, None) => {
                // A connector created again under a deleted one's id starts a
                // new round, so the old checkpoints are ignored.
                let round = state.map_or(0, |s| s.round + 1);
                Decision::Append(vec![ConnectorEvent::Created {
                    definition,
                    enabled: enable,
                    round,
                }])
            }
            (Command::Create { .. }, Some(_)) => Decision::AlreadyExists,
            (_, None) => Decision::NotFound,
            (Command::Reconfigure { definition }, Some(_)) => {
                Decision::Append(vec![ConnectorEvent::Reconfigured { definition }])
            }
            // Enabling an enabled connector is recorded too: it restarts a
            // faulted pipeline.
            (Command::Enable, Some(_)) => Decision::Append(vec![ConnectorEvent::Enabled]),
            (Command::Disable, Some(s)) if !s.enabled => Decision::Append(vec![]),
            (Command::Disable, Some(_)) => Decision::Append(vec![ConnectorEvent::Disabled]),
            (Command::Reset { to }, Some(s)) => Decision::Append(vec![ConnectorEvent::Reset {
                round: s.round + 1,
                to,
            }]),
            (Command::Delete, Some(_)) => Decision::Append(vec![ConnectorEvent::Deleted]),
        }
    }
}
