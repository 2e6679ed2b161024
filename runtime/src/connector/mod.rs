//! Connectors as events.
//!
//! A connector's life is the stream `$connectors/{id}`: created,
//! reconfigured, enabled, disabled, reset, renamed and deleted events
//! ([`ConnectorEvent`]). Its current [`ConnectorState`] is a fold over them;
//! a [`Command`] is decided against that state and its events are appended
//! with the expected revision, so two concurrent requests cannot both win.
//! The [`ConnectorRepository`] also keeps the connector's checkpoints
//! (`$connectors/{id}/checkpoints`, bounded by `$maxCount`, each carrying
//! the connector's running [`Counters`]) and dead letters
//! (`$connectors/{id}/dead-letters`, kept per incarnation so a connector
//! created again under a deleted one's id starts with none). Secret
//! settings are sealed on their way into the store and opened on the way
//! out (`secrets`), so events in `$connectors/{id}` never hold a secret in
//! clear.
//!
//! A round that starts at the `end` (a create with `start: end`, a reset
//! to the end) records where the log ended in its own `Created` / `Reset`
//! event (`end_at`): the checkpoint stream keeps only its last few records,
//! and a previous round's pipeline that is slow to stop can write enough of
//! them to evict the new round's first checkpoint, so the round's start
//! lives where no checkpoint can push it out. Without a checkpoint of its
//! round, a pipeline starts after that recorded end.
//!
//! A connector may also carry a name for people (`Renamed` changes it
//! without restarting its pipeline), and its definition can be read from
//! and shown as KurrentDB's settings map ([`settings_map`]).
//!
//! A connector whose events do not decode (another version's, or garbage
//! written to its stream) is listed apart as [`Unreadable`], with the
//! reason, so it faults alone instead of failing every listing.

mod affinity;
mod counters;
mod dead_letters;
mod definition;
mod events;
mod id;
pub mod json_path;
mod module_users;
mod ordering;
mod repository;
mod secrets;
pub mod settings_map;
mod state;

pub use affinity::{Affinity, MemberRole};
pub use counters::Counters;
pub use dead_letters::{
    DeadLetter, DeadLetterPage, EventEnvelopeSchema, LastReplay, ReplayGuard, ReplayOutcome,
    ReplayRunning, StoredDeadLetter,
};
pub use definition::*;
pub use events::{ConnectorEvent, EVENT_TYPE_PREFIX};
pub use id::{ConnectorId, InvalidConnectorId};
pub use json_path::{JsonPathFilter, Verdict};
pub use ordering::{OrderKey, Ordering, DEFAULT_CONCURRENCY, MAX_CONCURRENCY};
pub use repository::{
    Checkpoint, CommandError, ConnectorRepository, Listing, Progress, Unreadable,
};
pub use secrets::SecretFieldError;
pub use state::{Command, ConnectorState, Decision};
