//! Append: the first message names the stream (which the caller must be
//! allowed to write) and the expected revision, the others carry one event each. A wrong expected revision is a normal
//! answer (not an error status), with both the current and the legacy
//! fields set.

use tonic::{Status, Streaming};

use super::acl::Principal;
use super::convert::{
    content_type, stream_name, uuid_from_proto, Expected, CONTENT_TYPE_KEY, TYPE_KEY,
};
use super::metadata;
use super::proto::streams::append_req::{self, ProposedMessage};
use super::proto::streams::append_resp::{self, success, wrong_expected_version as wev};
use super::proto::streams::{AppendReq, AppendResp};
use super::proto::Empty;
use super::status;
use crate::store::{CurrentRevision, EventStore, ExpectedRevision, NewEvent, Position, StoreError};

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
    if let Some(target) = stream.strip_prefix("$$") {
        return metadata::append(store, target, expected, events).await;
    }
    match store.append(&stream, expected, events).await {
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
        data: proposed.data,
        metadata: proposed.custom_metadata,
    })
}

/// A successful append: where the stream is now, and the position of its
/// last event when known.
pub fn success(current: CurrentRevision, position: Option<Position>) -> AppendResp {
    let current_revision_option = Some(match current {
        CurrentRevision::Current(r) => success::CurrentRevisionOption::CurrentRevision(r),
        CurrentRevision::NoStream => success::CurrentRevisionOption::NoStream(Empty {}),
    });
    let position_option = Some(match position {
        Some(p) => success::PositionOption::Position(append_resp::Position {
            commit_position: p.commit,
            prepare_position: p.prepare,
        }),
        None => success::PositionOption::NoPosition(Empty {}),
    });
    AppendResp {
        result: Some(append_resp::Result::Success(append_resp::Success {
            current_revision_option,
            position_option,
        })),
    }
}

/// A refused append, in the current and the legacy (20.6.0) fields. The
/// legacy form has no "no stream" expectation; it carries -1 as an unsigned
/// number, which is how those clients encoded it.
pub fn wrong_expected_version(expected: ExpectedRevision, current: CurrentRevision) -> AppendResp {
    let (current_legacy, current_now) = match current {
        CurrentRevision::Current(r) => (
            wev::CurrentRevisionOption2060::CurrentRevision2060(r),
            wev::CurrentRevisionOption::CurrentRevision(r),
        ),
        CurrentRevision::NoStream => (
            wev::CurrentRevisionOption2060::NoStream2060(Empty {}),
            wev::CurrentRevisionOption::CurrentNoStream(Empty {}),
        ),
    };
    let (expected_legacy, expected_now) = match expected {
        ExpectedRevision::Exact(r) => (
            wev::ExpectedRevisionOption2060::ExpectedRevision2060(r),
            wev::ExpectedRevisionOption::ExpectedRevision(r),
        ),
        ExpectedRevision::Any => (
            wev::ExpectedRevisionOption2060::Any2060(Empty {}),
            wev::ExpectedRevisionOption::ExpectedAny(Empty {}),
        ),
        ExpectedRevision::StreamExists => (
            wev::ExpectedRevisionOption2060::StreamExists2060(Empty {}),
            wev::ExpectedRevisionOption::ExpectedStreamExists(Empty {}),
        ),
        ExpectedRevision::NoStream => (
            wev::ExpectedRevisionOption2060::ExpectedRevision2060(u64::MAX),
            wev::ExpectedRevisionOption::ExpectedNoStream(Empty {}),
        ),
    };
    AppendResp {
        result: Some(append_resp::Result::WrongExpectedVersion(
            append_resp::WrongExpectedVersion {
                current_revision_option_20_6_0: Some(current_legacy),
                expected_revision_option_20_6_0: Some(expected_legacy),
                current_revision_option: Some(current_now),
                expected_revision_option: Some(expected_now),
            },
        )),
    }
}
