use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::dead_letters::{DeadLetter, ReplayLocks};
use super::{
    Command, ConnectorEvent, ConnectorId, ConnectorState, Counters, Decision, SecretFieldError,
    StartFrom,
};
use crate::secrets::Keyring;
use crate::store::{
    Direction, EventStore, ExpectedRevision, NewEvent, Position, StoreError, StreamMetadata,
    StreamStart,
};

/// The stream listing every connector id ever created, so any member can
/// find them all without scanning the log.
const INDEX_STREAM: &str = "$connectors";
const INDEX_EVENT: &str = "$ConnectorRegistered";
const CHECKPOINT_EVENT: &str = "$ConnectorCheckpoint";
/// Checkpoint streams keep only their last few events.
const CHECKPOINTS_KEPT: u64 = 5;
const PAGE: usize = 500;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("connector `{0}` not found")]
    NotFound(ConnectorId),
    #[error("connector `{0}` already exists")]
    AlreadyExists(ConnectorId),
    #[error("connector `{0}` was changed by another request at the same time; retry")]
    Conflict(ConnectorId),
    #[error("connector `{id}` cannot be read: {message}")]
    Corrupt { id: ConnectorId, message: String },
    /// A secret could not be sealed (the node has no key) or opened (a
    /// key is missing, or the value was altered).
    #[error("connector `{id}`: {error}")]
    Secret {
        id: ConnectorId,
        error: SecretFieldError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A saved delivered position, with the connector's totals when it was
/// saved (records written before totals were kept read as zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub round: u64,
    pub position: Position,
    #[serde(default)]
    pub totals: Counters,
}

/// Where a connector is, from its checkpoint stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The current round's last checkpoint.
    pub checkpoint: Option<Checkpoint>,
    /// The connector's totals, whatever the round.
    pub totals: Counters,
    /// The checkpoint stream's revision, to expect on the next write.
    pub revision: ExpectedRevision,
}

/// What [`ConnectorRepository::list`] finds.
#[derive(Debug, Default)]
pub struct Listing {
    pub connectors: Vec<ConnectorState>,
    pub unreadable: Vec<Unreadable>,
}

/// A connector whose stored events cannot be made into a state: it shows
/// as faulted with `reason`, and runs no pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub id: ConnectorId,
    pub reason: String,
}

/// Loads and changes connectors in an [`EventStore`]. Definitions are
/// sealed with the keyring on append and opened on load.
#[derive(Clone)]
pub struct ConnectorRepository {
    store: Arc<dyn EventStore>,
    keyring: Arc<Keyring>,
    /// The connectors whose dead letters this node is replaying.
    pub(super) replays: ReplayLocks,
}

impl ConnectorRepository {
    /// A repository without keys: definitions with secrets can be neither
    /// written nor read (see [`ConnectorRepository::with_keyring`]).
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            keyring: Arc::new(Keyring::default()),
            replays: ReplayLocks::default(),
        }
    }

    /// Seals and opens secrets with `keyring`.
    pub fn with_keyring(mut self, keyring: Arc<Keyring>) -> Self {
        self.keyring = keyring;
        self
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The connector's current state, deleted ones included; `None` if it
    /// was never created. The secrets of a live connector are opened.
    pub async fn load(&self, id: &ConnectorId) -> Result<Option<ConnectorState>, CommandError> {
        let Some(mut state) = self.load_stored(id).await? else {
            return Ok(None);
        };
        if !state.deleted {
            state
                .definition
                .open_secrets(&self.keyring, id)
                .map_err(|error| CommandError::Secret {
                    id: id.clone(),
                    error,
                })?;
        }
        Ok(Some(state))
    }

    /// The connector's state as stored: secrets still sealed.
    async fn load_stored(&self, id: &ConnectorId) -> Result<Option<ConnectorState>, CommandError> {
        let mut parsed = Vec::new();
        let mut from = 0;
        loop {
            let page = match self
                .store
                .read_stream(
                    &id.stream(),
                    Direction::Forwards,
                    StreamStart::Revision(from),
                    PAGE,
                )
                .await
            {
                Ok(page) => page,
                Err(StoreError::StreamNotFound(_)) => break,
                Err(e) => return Err(e.into()),
            };
            for event in &page {
                match ConnectorEvent::from_recorded(event) {
                    Some(Ok(e)) => parsed.push((event.revision, event.created, e)),
                    Some(Err(e)) => {
                        return Err(CommandError::Corrupt {
                            id: id.clone(),
                            message: format!(
                                "its stored `{}` event at revision {} does not decode: {e}",
                                event.event_type, event.revision
                            ),
                        })
                    }
                    None => {}
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => from = last.revision + 1,
                _ => break,
            }
        }
        Ok(ConnectorState::fold(
            id,
            parsed.iter().map(|(r, at, e)| (*r, *at, e)),
        ))
    }

    /// Every connector that exists (not deleted), in creation order, its
    /// secrets opened. A connector with an event that does not decode is
    /// listed apart as unreadable, so one bad record does not hide the
    /// others. A secret that cannot be opened is still an error: the node's
    /// keys are wrong for every connector, not one record.
    pub async fn list(&self) -> Result<Listing, CommandError> {
        self.list_with(true).await
    }

    /// Every readable connector that exists, its secrets still sealed (for
    /// what needs no secret, such as which modules are in use).
    pub async fn list_stored(&self) -> Result<Vec<ConnectorState>, CommandError> {
        Ok(self.list_with(false).await?.connectors)
    }

    async fn list_with(&self, open: bool) -> Result<Listing, CommandError> {
        let mut seen = HashSet::new();
        let mut listing = Listing::default();
        for id in self.registered_ids().await? {
            if !seen.insert(id.clone()) {
                continue;
            }
            let state = if open {
                self.load(&id).await
            } else {
                self.load_stored(&id).await
            };
            match state {
                Ok(Some(state)) if !state.deleted => listing.connectors.push(state),
                Ok(_) => {}
                Err(e @ CommandError::Corrupt { .. }) => listing.unreadable.push(Unreadable {
                    id,
                    reason: e.to_string(),
                }),
                Err(e) => return Err(e),
            }
        }
        Ok(listing)
    }

    /// The ids in the index; a record of it that does not decode names no
    /// connector and is passed over.
    async fn registered_ids(&self) -> Result<Vec<ConnectorId>, StoreError> {
        let mut ids = Vec::new();
        let mut from = 0;
        loop {
            let page = match self
                .store
                .read_stream(
                    INDEX_STREAM,
                    Direction::Forwards,
                    StreamStart::Revision(from),
                    PAGE,
                )
                .await
            {
                Ok(page) => page,
                Err(StoreError::StreamNotFound(_)) => break,
                Err(e) => return Err(e),
            };
            #[derive(Deserialize)]
            struct Registered {
                id: ConnectorId,
            }
            ids.extend(
                page.iter()
                    .filter_map(|e| serde_json::from_slice::<Registered>(&e.data).ok())
                    .map(|r| r.id),
            );
            match page.last() {
                Some(last) if page.len() == PAGE => from = last.revision + 1,
                _ => break,
            }
        }
        Ok(ids)
    }

    /// Decides `command` against the connector's state and appends the
    /// outcome with the expected revision. Returns the new state.
    pub async fn execute(
        &self,
        id: &ConnectorId,
        command: Command,
    ) -> Result<ConnectorState, CommandError> {
        // Deciding needs no secret: a connector whose secrets cannot be
        // opened can still be disabled or deleted.
        let current = self.load_stored(id).await?;
        let is_create = matches!(command, Command::Create { .. });
        let mut events = match command.decide(current.as_ref()) {
            Decision::Append(events) => events,
            Decision::NotFound => return Err(CommandError::NotFound(id.clone())),
            Decision::AlreadyExists => return Err(CommandError::AlreadyExists(id.clone())),
        };
        // "end" is the end of the log when the command is accepted, not when
        // the pipeline gets to subscribe (events appended in between must
        // not be skipped, nor those appended before a restart that comes
        // before the first checkpoint). It is recorded in the event that
        // starts the round, where no checkpoint of an older round can evict
        // it, and as the round's first checkpoint (for the status).
        let round_from_end = events.iter().find_map(round_starting_at_end);
        let head = match round_from_end {
            Some(_) => Some(self.store.head_position().await?.unwrap_or(Position::START)),
            None => None,
        };
        if let Some(end) = head {
            events.iter_mut().for_each(|event| record_end(event, end));
        }
        let mut new_events = Vec::with_capacity(events.len());
        for event in &events {
            new_events.push(self.sealed(id, event)?.to_new_event());
        }
        if is_create {
            self.register(id).await?;
        }
        if events.is_empty() {
            return self
                .load(id)
                .await?
                .ok_or_else(|| CommandError::NotFound(id.clone()));
        }
        let expected = current.as_ref().map_or(ExpectedRevision::NoStream, |s| {
            ExpectedRevision::Exact(s.revision)
        });
        match self.store.append(&id.stream(), expected, new_events).await {
            Ok(_) => {}
            Err(StoreError::WrongExpectedRevision { .. }) if is_create && current.is_none() => {
                return Err(CommandError::AlreadyExists(id.clone()))
            }
            Err(StoreError::WrongExpectedRevision { .. }) => {
                return Err(CommandError::Conflict(id.clone()))
            }
            Err(e) => return Err(e.into()),
        }
        if is_create {
            self.store
                .set_stream_metadata(
                    &id.checkpoint_stream(),
                    StreamMetadata {
                        max_count: Some(CHECKPOINTS_KEPT),
                        ..StreamMetadata::default()
                    },
                )
                .await?;
        }
        self.load(id)
            .await?
            .ok_or_else(|| CommandError::NotFound(id.clone()))
    }

    /// `event` with the secrets of its definition sealed.
    fn sealed(
        &self,
        id: &ConnectorId,
        event: &ConnectorEvent,
    ) -> Result<ConnectorEvent, CommandError> {
        let mut event = event.clone();
        if let ConnectorEvent::Created { definition, .. }
        | ConnectorEvent::Reconfigured { definition } = &mut event
        {
            definition
                .seal_secrets(&self.keyring, id)
                .map_err(|error| CommandError::Secret {
                    id: id.clone(),
                    error,
                })?;
        }
        Ok(event)
    }

    async fn register(&self, id: &ConnectorId) -> Result<(), StoreError> {
        let event = NewEvent::json(INDEX_EVENT, &serde_json::json!({ "id": id }));
        self.store
            .append(INDEX_STREAM, ExpectedRevision::Any, vec![event])
            .await
            .map(|_| ())
    }

    /// The last checkpoint of `round`, if any. The pipeline of the previous
    /// round may still write its final checkpoint after the new round began,
    /// so the last few checkpoints are searched, newest first.
    pub async fn checkpoint(
        &self,
        id: &ConnectorId,
        round: u64,
    ) -> Result<Option<Checkpoint>, StoreError> {
        Ok(self.progress(id, round).await?.checkpoint)
    }

    /// The connector's totals as last saved, whatever the round: they go on
    /// across resets. Of the records kept, each count is taken at its
    /// largest, as a previous round's final checkpoint may land after the
    /// next round's first.
    pub async fn totals(&self, id: &ConnectorId) -> Result<Counters, StoreError> {
        Ok(totals_of(&self.recent_checkpoints(id).await?.0))
    }

    /// The round's last checkpoint, the connector's totals
    /// ([`ConnectorRepository::checkpoint`] and
    /// [`ConnectorRepository::totals`]) and where the checkpoint stream is,
    /// from one read of the checkpoints.
    pub async fn progress(&self, id: &ConnectorId, round: u64) -> Result<Progress, StoreError> {
        let (kept, revision) = self.recent_checkpoints(id).await?;
        Ok(Progress {
            totals: totals_of(&kept),
            checkpoint: kept.into_iter().find(|c| c.round == round),
            revision,
        })
    }

    /// The checkpoints kept, newest first, and the stream's revision to
    /// expect on the next write.
    async fn recent_checkpoints(
        &self,
        id: &ConnectorId,
    ) -> Result<(Vec<Checkpoint>, ExpectedRevision), StoreError> {
        match self
            .store
            .read_stream(
                &id.checkpoint_stream(),
                Direction::Backwards,
                StreamStart::End,
                CHECKPOINTS_KEPT as usize,
            )
            .await
        {
            Ok(events) => Ok((
                events
                    .iter()
                    .filter_map(|e| serde_json::from_slice::<Checkpoint>(&e.data).ok())
                    .collect(),
                events.first().map_or(ExpectedRevision::NoStream, |e| {
                    ExpectedRevision::Exact(e.revision)
                }),
            )),
            Err(StoreError::StreamNotFound(_)) => Ok((Vec::new(), ExpectedRevision::NoStream)),
            Err(e) => Err(e),
        }
    }

    /// Appends `checkpoint` if the checkpoint stream is at `expected` (the
    /// revision the writer last read or wrote), so a writer that another
    /// took over from cannot move it; returns the revision to expect next.
    pub async fn save_checkpoint(
        &self,
        id: &ConnectorId,
        checkpoint: Checkpoint,
        expected: ExpectedRevision,
    ) -> Result<ExpectedRevision, StoreError> {
        let event = NewEvent::json(CHECKPOINT_EVENT, &checkpoint);
        self.store
            .append(&id.checkpoint_stream(), expected, vec![event])
            .await
            .map(|r| ExpectedRevision::Exact(r.next_expected_revision))
    }

    /// Writes a dead letter of `connector`'s current incarnation (see
    /// [`super::dead_letters`]).
    pub async fn dead_letter(
        &self,
        connector: &ConnectorState,
        letter: DeadLetter<'_>,
    ) -> Result<(), StoreError> {
        self.store
            .append(
                &connector.id.dead_letter_stream(),
                ExpectedRevision::Any,
                vec![letter.to_new_event(connector)],
            )
            .await
            .map(|_| ())
    }

    /// Removes what a deleted connector leaves besides its lifecycle: its
    /// checkpoints and its dead letters (soft deletes, so a connector
    /// created again under the id writes on). Called after the `Deleted`
    /// event is appended; if this never happens (a crash in between), a new
    /// connector under the id still sees neither: checkpoints are kept per
    /// round and dead letters per incarnation, both new on re-creation.
    pub async fn forget_streams(&self, id: &ConnectorId) -> Result<(), StoreError> {
        for stream in [id.checkpoint_stream(), id.dead_letter_stream()] {
            match self
                .store
                .delete_stream(&stream, ExpectedRevision::Any)
                .await
            {
                Ok(()) | Err(StoreError::StreamNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The round an event starts from the end of the log, if it does.
fn round_starting_at_end(event: &ConnectorEvent) -> Option<u64> {
    match event {
        ConnectorEvent::Created {
            definition, round, ..
        } if definition.start == StartFrom::End => Some(*round),
        ConnectorEvent::Reset {
            round,
            to: StartFrom::End,
            ..
        } => Some(*round),
        _ => None,
    }
}

/// Records `end` as where the log ended in an event starting a round at the
/// end.
fn record_end(event: &mut ConnectorEvent, end: Position) {
    match event {
        ConnectorEvent::Created {
            definition, end_at, ..
        } if definition.start == StartFrom::End => *end_at = Some(end),
        ConnectorEvent::Reset {
            to: StartFrom::End,
            end_at,
            ..
        } => *end_at = Some(end),
        _ => {}
    }
}

/// Each count at its largest over the checkpoints kept: a previous round's
/// final checkpoint may land after the next round's first.
fn totals_of(kept: &[Checkpoint]) -> Counters {
    kept.iter()
        .fold(Counters::default(), |acc, c| acc.max_each(c.totals))
}
