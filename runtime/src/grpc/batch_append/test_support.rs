//! What the batch append tests share: requests, reading answers, and one
//! call's two ends.

use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::{Stream, StreamExt};
use tonic::{Code, Status};
use uuid::Uuid;

use super::super::proto::event_store::client as shared;
use super::super::proto::google::rpc;
use super::super::proto::streams::batch_append_req::options::ExpectedStreamPosition;
use super::super::proto::streams::batch_append_req::{Options, ProposedMessage};
use super::super::proto::streams::batch_append_resp::{self, success};
use super::super::proto::streams::{BatchAppendReq, BatchAppendResp};
use super::super::proto::{StreamIdentifier, Uuid as ProtoUuid};
use crate::grpc::convert::uuid_to_proto;

pub(super) fn correlation() -> ProtoUuid {
    uuid_to_proto(Uuid::new_v4(), false)
}

pub(super) fn event(event_type: &str, data: &str) -> ProposedMessage {
    ProposedMessage {
        id: Some(uuid_to_proto(Uuid::new_v4(), false)),
        metadata: HashMap::from([
            ("type".to_owned(), event_type.to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ]),
        custom_metadata: Vec::new(),
        data: data.as_bytes().to_vec(),
    }
}

pub(super) fn events(count: usize) -> Vec<ProposedMessage> {
    (0..count)
        .map(|n| event("Counted", &format!("{{\"n\":{n}}}")))
        .collect()
}

pub(super) fn identifier(stream: &str) -> Option<StreamIdentifier> {
    Some(StreamIdentifier {
        stream_name: stream.as_bytes().to_vec(),
    })
}

/// The first chunk of an append.
pub(super) fn first(
    id: &ProtoUuid,
    stream: &str,
    expected: ExpectedStreamPosition,
    events: Vec<ProposedMessage>,
    is_final: bool,
) -> BatchAppendReq {
    BatchAppendReq {
        correlation_id: Some(id.clone()),
        options: Some(Options {
            stream_identifier: identifier(stream),
            expected_stream_position: Some(expected),
            deadline_option: None,
        }),
        proposed_messages: events,
        is_final,
    }
}

/// A later chunk of an append.
pub(super) fn chunk(
    id: &ProtoUuid,
    events: Vec<ProposedMessage>,
    is_final: bool,
) -> BatchAppendReq {
    BatchAppendReq {
        correlation_id: Some(id.clone()),
        options: None,
        proposed_messages: events,
        is_final,
    }
}

/// The stream's revision and position after a successful append.
pub(super) fn succeeded(answer: &BatchAppendResp) -> (Option<u64>, Option<u64>) {
    let Some(batch_append_resp::Result::Success(done)) = &answer.result else {
        panic!("not a success: {answer:?}");
    };
    let revision = match done.current_revision_option {
        Some(success::CurrentRevisionOption::CurrentRevision(r)) => Some(r),
        _ => None,
    };
    let position = match &done.position_option {
        Some(success::PositionOption::Position(p)) => Some(p.commit_position),
        _ => None,
    };
    (revision, position)
}

/// The error of a refused append, checking its one detail's type.
pub(super) fn refused_with<'a>(answer: &'a BatchAppendResp, detail: &str) -> &'a rpc::Status {
    let Some(batch_append_resp::Result::Error(error)) = &answer.result else {
        panic!("not refused: {answer:?}");
    };
    let any = error.details.as_ref().expect("a detail");
    assert_eq!(
        any.type_url,
        format!("type.googleapis.com/event_store.client.{detail}"),
        "{answer:?}"
    );
    assert_eq!(error.message, detail);
    error
}

pub(super) fn bad_request_message(answer: &BatchAppendResp) -> String {
    let error = refused_with(answer, "BadRequest");
    assert_eq!(error.code, Code::InvalidArgument as i32);
    let any = error.details.as_ref().expect("a detail");
    shared::BadRequest::decode(any.value.as_slice())
        .expect("a BadRequest detail")
        .message
}

/// One batch append call: requests go in, answers come out.
pub(super) struct Call<A> {
    pub requests: mpsc::Sender<BatchAppendReq>,
    pub answers: A,
}

impl<A: Stream<Item = Result<BatchAppendResp, Status>> + Unpin> Call<A> {
    pub async fn send(&self, request: BatchAppendReq) {
        self.requests.send(request).await.expect("the call is open");
    }

    /// The next answer (the test fails if none comes within a minute).
    pub async fn answer(&mut self) -> BatchAppendResp {
        match tokio::time::timeout(Duration::from_secs(60), self.answers.next()).await {
            Ok(Some(Ok(answer))) => answer,
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    /// Sends no more requests.
    pub fn close(&mut self) {
        // Replacing the sender drops the call's one.
        self.requests = mpsc::channel(1).0;
    }

    /// Whatever comes next: an answer, the call's error, or its end.
    pub async fn next(&mut self) -> Option<Result<BatchAppendResp, Status>> {
        tokio::time::timeout(Duration::from_secs(60), self.answers.next())
            .await
            .expect("the call answers or ends")
    }
}
