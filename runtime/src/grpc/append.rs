//! Append: the first message names the stream (which the caller must be
//! allowed to write) and the expected revision, the others carry one event
//! each. A wrong expected revision is a normal answer (not an error
//! status), with both the current and the legacy fields set. The checks of
//! proposed events and the write itself are shared with `BatchAppend`.

use tonic::{Status, Streaming};

use super::acl::Principal;
use super::convert::{
    content_type, stream_name, uuid_from_proto, Expected, CONTENT_TYPE_KEY, TYPE_KEY,
};
use super::metadata;
use super::proto::streams::append_req::{self, ProposedMessage};
use super::proto::streams::{AppendReq, AppendResp};
use super::replies::{success, wrong_expected_version};
use super::status;
use crate::store::{CurrentRevision, EventStore, ExpectedRevision, NewEvent, StoreError};

/// The largest append accepted (every field of all its events: data,
/// metadata, the metadata map with the event type, ids).
pub const MAX_APPEND_BYTES: usize = 16 * 1024 * 1024;

/// Reads the whole request stream, then appends.
pub async fn append(
    store: &dyn EventStore,
    principal: Principal,
    mut requests: Streaming<AppendReq>,
    max_bytes: usize,
) -> Result<AppendResp, Status> {
    let options = match requests.message().await? {
        Some(AppendReq {
            content: Some(append_req::Content::Options(options)),
        }) => options,
        _ => {
            return Err(Status::invalid_argument(
                "an append starts with a message naming the stream",
            ))
        }
    };
    let stream = stream_name(options.stream_identifier)?;
    principal.check_stream(&stream)?;
    let Expected(expected) = options.expected_stream_revision.into();
    let mut events = Vec::new();
    let mut bytes = 0usize;
    while let Some(message) = requests.message().await? {
        let Some(append_req::Content::ProposedMessage(proposed)) = message.content else {
            return Err(Status::invalid_argument(
                "only the first message of an append may carry options",
            ));
        };
        bytes = bytes.saturating_add(proposed_bytes(&proposed));
        if bytes > max_bytes {
            return Err(status::append_too_large(max_bytes));
        }
        events.push(new_event(proposed)?);
    }
    write(store, &stream, expected, events).await
}

/// Writes an append's events to `stream` (or, for `$$stream`, sets the
/// metadata of `stream`): a wrong expected revision is a normal answer,
/// other failures are statuses. `Append` and `BatchAppend` share it.
pub(super) async fn write(
    store: &dyn EventStore,
    stream: &str,
    expected: ExpectedRevision,
    events: Vec<NewEvent>,
) -> Result<AppendResp, Status> {
    if let Some(target) = stream.strip_prefix("$$") {
        return metadata::append(store, target, expected, events).await;
    }
    match store.append(stream, expected, events).await {
        // An empty append to a stream without events.
        Ok(result) if result.next_expected_revision == u64::MAX => {
            Ok(success(CurrentRevision::NoStream, None))
        }
        Ok(result) => Ok(success(
            CurrentRevision::Current(result.next_expected_revision),
            Some(result.position),
        )),
        Err(StoreError::WrongExpectedRevision {
            expected, current, ..
        }) => Ok(wrong_expected_version(expected, current)),
        Err(e) => Err(status::from_store(e)),
    }
}

/// What one proposed event counts towards [`MAX_APPEND_BYTES`]: every
/// field a client controls.
pub(super) fn proposed_bytes(proposed: &ProposedMessage) -> usize {
    const ID_BYTES: usize = 36;
    proposed
        .metadata
        .iter()
        .fold(ID_BYTES, |sum, (k, v)| {
            sum.saturating_add(k.len() + v.len())
        })
        .saturating_add(proposed.data.len())
        .saturating_add(proposed.custom_metadata.len())
}

pub(super) fn new_event(proposed: ProposedMessage) -> Result<NewEvent, Status> {
    let id = uuid_from_proto(proposed.id)?;
    let event_type = match proposed.metadata.get(TYPE_KEY) {
        Some(t) if !t.is_empty() => t.clone(),
        _ => {
            return Err(Status::invalid_argument(format!(
                "event {id} has no `{TYPE_KEY}` in its metadata"
            )))
        }
    };
    Ok(NewEvent {
        id,
        event_type,
        content_type: content_type(proposed.metadata.get(CONTENT_TYPE_KEY)),
        data: proposed.data.into(),
        metadata: proposed.custom_metadata.into(),
    })
}
