//! Who owns a connector: `$connectors/{id}/owner`, one event per claim or
//! release, each appended with the revision its writer last read, so two
//! members claiming at once cannot both win.
//!
//! The revision of a claim is its *epoch*: it grows with every hand-over,
//! travels with each delivery (`esdb-connector-epoch`), and tells a member
//! whether the claim it runs under is still the current one.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::connector::ConnectorId;
use crate::store::{
    Direction, EventStore, ExpectedRevision, NewEvent, RecordedEvent, StoreError, StreamMetadata,
    StreamStart,
};

const CLAIMED_EVENT: &str = "$ConnectorClaimed";
const RELEASED_EVENT: &str = "$ConnectorReleased";
/// Owner streams keep only their last few records.
const OWNER_RECORDS_KEPT: u64 = 5;

/// The stream of a connector's owners.
pub fn owner_stream(id: &ConnectorId) -> String {
    format!("{}/owner", id.stream())
}

/// The connector whose owner stream `stream` is, if it is one.
pub fn owned_connector(stream: &str) -> Option<ConnectorId> {
    let id = stream
        .strip_prefix("$connectors/")?
        .strip_suffix("/owner")?;
    ConnectorId::parse(id).ok()
}

/// A claim or a release, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnerRecord {
    member: String,
    incarnation: Uuid,
}

/// The last record of a connector's owner stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The record's revision: the epoch of a claim.
    pub revision: u64,
    pub member: String,
    pub incarnation: Uuid,
    /// The member let it go (a graceful stop, a rebalance).
    pub released: bool,
}

impl Owner {
    /// The owner in `event`, if it is an owner record.
    pub fn from_recorded(event: &RecordedEvent) -> Option<Self> {
        let released = match event.event_type.as_str() {
            CLAIMED_EVENT => false,
            RELEASED_EVENT => true,
            _ => return None,
        };
        let record: OwnerRecord = serde_json::from_slice(&event.data).ok()?;
        Some(Self {
            revision: event.revision,
            member: record.member,
            incarnation: record.incarnation,
            released,
        })
    }

    /// The member that holds it, if not released.
    pub fn holder(&self) -> Option<(&str, Uuid)> {
        (!self.released).then_some((self.member.as_str(), self.incarnation))
    }

    /// The revision to expect when writing after this record.
    pub fn expected(owner: Option<&Owner>) -> ExpectedRevision {
        owner.map_or(ExpectedRevision::NoStream, |o| {
            ExpectedRevision::Exact(o.revision)
        })
    }
}

/// Reads and writes owner records.
pub struct Ownership<'a> {
    pub store: &'a dyn EventStore,
}

impl Ownership<'_> {
    /// The connector's last owner record, if any.
    pub async fn current(&self, id: &ConnectorId) -> Result<Option<Owner>, StoreError> {
        match self
            .store
            .read_stream(&owner_stream(id), Direction::Backwards, StreamStart::End, 1)
            .await
        {
            Ok(events) => Ok(events.first().and_then(Owner::from_recorded)),
            Err(StoreError::StreamNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Claims the connector for `member` if its owner stream is still at
    /// `after`; returns the claim (its revision is the new epoch).
    /// [`StoreError::WrongExpectedRevision`] means another record came first.
    pub async fn claim(
        &self,
        id: &ConnectorId,
        after: Option<&Owner>,
        member: &str,
        incarnation: Uuid,
    ) -> Result<Owner, StoreError> {
        self.write(id, after, member, incarnation, CLAIMED_EVENT)
            .await
    }

    /// Lets the connector go, if its owner stream is still at `after`.
    pub async fn release(
        &self,
        id: &ConnectorId,
        after: &Owner,
        member: &str,
        incarnation: Uuid,
    ) -> Result<Owner, StoreError> {
        self.write(id, Some(after), member, incarnation, RELEASED_EVENT)
            .await
    }

    async fn write(
        &self,
        id: &ConnectorId,
        after: Option<&Owner>,
        member: &str,
        incarnation: Uuid,
        event_type: &str,
    ) -> Result<Owner, StoreError> {
        let stream = owner_stream(id);
        let record = OwnerRecord {
            member: member.to_owned(),
            incarnation,
        };
        let result = self
            .store
            .append(
                &stream,
                Owner::expected(after),
                vec![NewEvent::json(event_type, &record)],
            )
            .await?;
        if after.is_none() {
            let bounded = StreamMetadata {
                max_count: Some(OWNER_RECORDS_KEPT),
                ..StreamMetadata::default()
            };
            if let Err(e) = self.store.set_stream_metadata(&stream, bounded).await {
                tracing::warn!(connector = %id, error = %e, "could not bound the owner stream");
            }
        }
        Ok(Owner {
            revision: result.next_expected_revision,
            member: record.member,
            incarnation,
            released: event_type == RELEASED_EVENT,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::embedded::SqliteStore;

    #[tokio::test]
    async fn only_one_of_two_claims_from_the_same_record_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteStore::open(&dir.path().join("events.db")).expect("store"));
        let ownership = Ownership {
            store: store.as_ref(),
        };
        let id = ConnectorId::parse("c").expect("id");
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = ownership.claim(&id, None, "a", a).await.expect("a claims");
        let lost = ownership.claim(&id, None, "b", b).await;
        assert!(matches!(
            lost,
            Err(StoreError::WrongExpectedRevision { .. })
        ));
        assert_eq!(
            ownership.current(&id).await.expect("read"),
            Some(first.clone())
        );

        // Released, then claimed by b: the epoch grows.
        let released = ownership
            .release(&id, &first, "a", a)
            .await
            .expect("release");
        assert_eq!(released.holder(), None);
        let second = ownership
            .claim(&id, Some(&released), "b", b)
            .await
            .expect("b claims");
        assert!(second.revision > first.revision);
        assert_eq!(second.holder(), Some(("b", b)));
        assert_eq!(owned_connector(&owner_stream(&id)), Some(id));
    }
}
