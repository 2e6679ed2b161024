//! The protocol's answers that several calls share: the sending half of a
//! read's response stream and the stream-not-found answer (stream reads,
//! subscriptions, `$$` metadata reads), and the success and
//! wrong-expected-version answers of appends (appends to streams and to
//! `$$` metadata streams).

use tokio::sync::mpsc;
use tonic::Status;

use super::convert::stream_identifier;
use super::proto::streams::append_resp::{self, success, wrong_expected_version as wev};
use super::proto::streams::{read_resp, AppendResp, ReadResp};
use super::proto::Empty;
use crate::store::{CurrentRevision, ExpectedRevision, Position};

/// The sending half of a `Read` response stream.
pub type Sender = mpsc::Sender<Result<ReadResp, Status>>;

/// Sends a message; `false` once the client is gone.
pub async fn send(tx: &Sender, message: ReadResp) -> bool {
    tx.send(Ok(message)).await.is_ok()
}

/// Ends the response stream with an error status.
pub async fn fail(tx: &Sender, status: Status) {
    let _ = tx.send(Err(status)).await;
}

/// The answer to a read of a stream that has no events.
pub fn stream_not_found(stream: &str) -> ReadResp {
    ReadResp {
        content: Some(read_resp::Content::StreamNotFound(
            read_resp::StreamNotFound {
                stream_identifier: Some(stream_identifier(stream)),
            },
        )),
    }
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
