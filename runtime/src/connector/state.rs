use chrono::{DateTime, Utc};

use super::{ConnectorDefinition, ConnectorEvent, ConnectorId, StartFrom};
use crate::store::Position;

/// A connector as its events describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorState {
    pub id: ConnectorId,
    /// A name for people, when one was given.
    pub name: Option<String>,
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
    /// The revision of its last event that changes what its pipeline does
    /// (all but a rename): a running pipeline restarts when it grows.
    pub pipeline_revision: u64,
    /// The revision of the `Created` event of this life of the connector:
    /// a connector deleted and created again under the same id gets a new
    /// one, so what an earlier life left behind (dead letters) is told apart.
    pub incarnation: u64,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// When the definition last changed (created or reconfigured).
    pub defined: DateTime<Utc>,
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
                        end_at,
                        name,
                    },
                ) => Some(Self {
                    id: id.clone(),
                    name: name.clone(),
                    definition: definition.clone(),
                    enabled: *enabled,
                    deleted: false,
                    round: *round,
                    round_start: round_start(definition.start, *end_at),
                    revision,
                    pipeline_revision: revision,
                    incarnation: revision,
                    created: at,
                    updated: at,
                    defined: at,
                }),
                (None, _) => None,
                (Some(mut s), event) => {
                    s.apply(event, at);
                    s.revision = revision;
                    if !matches!(event, ConnectorEvent::Renamed { .. }) {
                        s.pipeline_revision = revision;
                    }
                    s.updated = at;
                    Some(s)
                }
            };
        }
        state
    }

    fn apply(&mut self, event: &ConnectorEvent, at: DateTime<Utc>) {
        match event {
            ConnectorEvent::Created { .. } => {}
            ConnectorEvent::Reconfigured { definition } => {
                self.definition = definition.clone();
                self.defined = at;
            }
            ConnectorEvent::Renamed { name } => self.name = Some(name.clone()),
            ConnectorEvent::Enabled => self.enabled = true,
            ConnectorEvent::Disabled => self.enabled = false,
            ConnectorEvent::Reset { round, to, end_at } => {
                self.round = *round;
                self.round_start = round_start(*to, *end_at);
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

/// Where a round starts: a round asked to start at the `end` starts after
/// the end recorded when it began (events written before that recording
/// start at the live end, as they always did).
fn round_start(asked: StartFrom, end_at: Option<Position>) -> StartFrom {
    match (asked, end_at) {
        (StartFrom::End, Some(end)) => StartFrom::After(end),
        (asked, _) => asked,
    }
}

/// What a client asks of a connector.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Create {
        definition: ConnectorDefinition,
        enable: bool,
        name: Option<String>,
    },
    Reconfigure {
        definition: ConnectorDefinition,
    },
    Enable,
    Disable,
    Reset {
        to: StartFrom,
    },
    /// A reset and an enable in one step: the connector runs from `to`.
    StartFrom {
        to: StartFrom,
    },
    Rename {
        name: String,
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
            (
                Command::Create {
                    definition,
                    enable,
                    name,
                },
                None,
            ) => {
                // A connector created again under a deleted one's id starts a
                // new round, so the old checkpoints are ignored.
                let round = state.map_or(0, |s| s.round + 1);
                Decision::Append(vec![ConnectorEvent::Created {
                    definition,
                    enabled: enable,
                    round,
                    end_at: None,
                    name,
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
                end_at: None,
            }]),
            (Command::StartFrom { to }, Some(s)) => Decision::Append(vec![
                ConnectorEvent::Reset {
                    round: s.round + 1,
                    to,
                    end_at: None,
                },
                ConnectorEvent::Enabled,
            ]),
            (Command::Rename { name }, Some(s)) if s.name.as_ref() == Some(&name) => {
                Decision::Append(vec![])
            }
            (Command::Rename { name }, Some(_)) => {
                Decision::Append(vec![ConnectorEvent::Renamed { name }])
            }
            (Command::Delete, Some(_)) => Decision::Append(vec![ConnectorEvent::Deleted]),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    fn definition() -> ConnectorDefinition {
        serde_json::from_value(json!({ "sink": { "type": "console" } })).expect("definition")
    }

    /// Decides `commands` in order, folding each outcome like the repository.
    fn run(commands: Vec<Command>) -> (Option<ConnectorState>, Vec<Decision>) {
        let id = ConnectorId::parse("c").expect("id");
        let mut events: Vec<ConnectorEvent> = Vec::new();
        let mut decisions = Vec::new();
        for command in commands {
            let state = fold(&id, &events);
            let decision = command.decide(state.as_ref());
            if let Decision::Append(new) = &decision {
                events.extend(new.iter().cloned());
            }
            decisions.push(decision);
        }
        (fold(&id, &events), decisions)
    }

    fn fold(id: &ConnectorId, events: &[ConnectorEvent]) -> Option<ConnectorState> {
        let now = Utc::now();
        ConnectorState::fold(
            id,
            events.iter().enumerate().map(|(i, e)| (i as u64, now, e)),
        )
    }

    fn create(enable: bool) -> Command {
        Command::Create {
            definition: definition(),
            enable,
            name: None,
        }
    }

    #[test]
    fn lifecycle_folds_into_state() {
        let (state, _) = run(vec![create(false), Command::Enable]);
        let state = state.expect("created");
        assert!(state.enabled && state.should_run());
        assert_eq!((state.round, state.revision), (0, 1));

        let (state, _) = run(vec![create(true), Command::Disable]);
        assert!(!state.expect("created").should_run());
    }

    #[test]
    fn reset_starts_a_new_round_from_the_target() {
        let to = StartFrom::After(crate::store::Position::new(42, 42));
        let (state, _) = run(vec![
            create(true),
            Command::Reset { to },
            Command::Reset { to: StartFrom::End },
        ]);
        let state = state.expect("created");
        assert_eq!(state.round, 2);
        assert_eq!(state.round_start, StartFrom::End);
    }

    #[test]
    fn deleted_connectors_are_gone_and_their_id_is_reusable() {
        let (state, decisions) = run(vec![
            create(true),
            Command::Delete,
            Command::Enable,
            create(true),
        ]);
        assert_eq!(decisions[2], Decision::NotFound);
        let state = state.expect("created again");
        assert!(!state.deleted);
        assert_eq!(state.round, 1, "a new round ignores the old checkpoints");
    }

    #[test]
    fn conflicting_commands_are_refused() {
        let (_, decisions) = run(vec![Command::Enable, create(true), create(true)]);
        assert_eq!(decisions[0], Decision::NotFound);
        assert_eq!(decisions[2], Decision::AlreadyExists);
    }

    #[test]
    fn a_rename_changes_the_name_but_not_what_runs() {
        let (state, decisions) = run(vec![
            create(true),
            Command::Rename {
                name: "Orders".into(),
            },
            Command::Rename {
                name: "Orders".into(),
            },
        ]);
        let state = state.expect("created");
        assert_eq!(state.name.as_deref(), Some("Orders"));
        assert_eq!((state.revision, state.pipeline_revision), (1, 0));
        assert_eq!(decisions[2], Decision::Append(vec![]), "same name again");
    }

    #[test]
    fn starting_from_a_position_resets_and_enables_at_once() {
        let to = StartFrom::After(crate::store::Position::new(7, 7));
        let (state, decisions) = run(vec![create(false), Command::StartFrom { to }]);
        let state = state.expect("created");
        assert!(state.enabled);
        assert_eq!((state.round, state.round_start), (1, to));
        assert!(matches!(&decisions[1], Decision::Append(events) if events.len() == 2));
    }

    #[test]
    fn disabling_twice_appends_nothing() {
        let (_, decisions) = run(vec![create(false), Command::Disable]);
        assert_eq!(decisions[1], Decision::Append(vec![]));
    }
}
