//! Metadata streams (`$$<stream>`). Clients read and write a stream's
//! metadata as `$metadata` events of its metadata stream; the store keeps
//! only the latest metadata, so here a metadata stream has at most one
//! event, at revision 0, and expected revisions are checked against that.

use bytes::Bytes;
use chrono::Utc;
use tonic::Status;
use uuid::Uuid;

use super::convert::read_event;
use super::proto::streams::AppendResp;
use super::replies::{fail, send, stream_not_found, success, wrong_expected_version, Sender};
use super::status;
use crate::store::{
    ContentType, CurrentRevision, Direction, EventStore, ExpectedRevision, NewEvent, Position,
    RecordedEvent, StreamMetadata, StreamStart,
};

/// The event type of metadata events.
pub const METADATA_EVENT_TYPE: &str = "$metadata";

/// Sends the metadata of `target` as the one event of `$$target`.
pub async fn read(
    store: &dyn EventStore,
    tx: &Sender,
    target: &str,
    direction: Direction,
    from: StreamStart,
    structured_ids: bool,
) {
    let name = format!("$${target}");
    let metadata = match store.stream_metadata(target).await {
        Ok(Some(metadata)) => metadata,
        Ok(None) => {
            send(tx, stream_not_found(&name)).await;
            return;
        }
        Err(e) => return fail(tx, status::from_store(e)).await,
    };
    let past_the_event = direction == Direction::Forwards
        && matches!(from, StreamStart::End | StreamStart::Revision(1..));
    if past_the_event {
        return;
    }
    let data = match serde_json::to_vec(&metadata) {
        Ok(data) => data,
        Err(e) => return fail(tx, Status::internal(format!("metadata of `{target}`: {e}"))).await,
    };
    let event = RecordedEvent {
        // The same metadata always has the same id.
        id: Uuid::new_v5(&Uuid::NAMESPACE_OID, &[name.as_bytes(), &data].concat()),
        stream: name,
        revision: 0,
        position: Position::START,
        event_type: METADATA_EVENT_TYPE.to_owned(),
        content_type: ContentType::Json,
        created: Utc::now(),
        data: data.into(),
        metadata: Bytes::new(),
    };
    send(tx, read_event(event, structured_ids)).await;
}

/// Sets the metadata of `target` from the last event appended to `$$target`.
pub async fn append(
    store: &dyn EventStore,
    target: &str,
    expected: ExpectedRevision,
    events: Vec<NewEvent>,
) -> Result<AppendResp, Status> {
    let current = match store
        .stream_metadata(target)
        .await
        .map_err(status::from_store)?
    {
        Some(_) => CurrentRevision::Current(0),
        None => CurrentRevision::NoStream,
    };
    if !satisfies(expected, current) {
        return Ok(wrong_expected_version(expected, current));
    }
    let Some(event) = events.last() else {
        return Ok(success(current, None));
    };
    if event.event_type != METADATA_EVENT_TYPE {
        return Err(Status::invalid_argument(format!(
            "events of a metadata stream must have the type `{METADATA_EVENT_TYPE}`, not `{}`",
            event.event_type
        )));
    }
    let metadata: StreamMetadata = serde_json::from_slice(&event.data).map_err(|e| {
        Status::invalid_argument(format!(
            "stream metadata must be a JSON object with `$maxCount`, `$maxAge`, `$tb` or custom keys: {e}"
        ))
    })?;
    store
        .set_stream_metadata(target, metadata)
        .await
        .map_err(status::from_store)?;
    Ok(success(CurrentRevision::Current(0), None))
}

fn satisfies(expected: ExpectedRevision, current: CurrentRevision) -> bool {
    match expected {
        ExpectedRevision::Any => true,
        ExpectedRevision::NoStream => current == CurrentRevision::NoStream,
        ExpectedRevision::StreamExists => current != CurrentRevision::NoStream,
        ExpectedRevision::Exact(revision) => current == CurrentRevision::Current(revision),
    }
}
