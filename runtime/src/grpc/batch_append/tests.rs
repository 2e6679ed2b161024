//! `BatchAppend` on the wire, with the generated client against a served
//! embedded store: chunked appends, interleaved correlation ids, every
//! refusal form as clients decode it, and the feature list.

use std::sync::Arc;

use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use super::super::proto::event_store::client::{
    self as shared, wrong_expected_version::CurrentStreamRevisionOption,
    wrong_expected_version::ExpectedStreamPositionOption,
};
use super::super::proto::server_features::server_features_client::ServerFeaturesClient;
use super::super::proto::streams::batch_append_req::options::ExpectedStreamPosition;
use super::super::proto::streams::streams_client::StreamsClient;
use super::super::proto::streams::BatchAppendResp;
use super::super::proto::{Empty, Uuid as ProtoUuid};
use super::super::{serve, Credentials, GrpcConfig, GrpcServer};
use super::test_support::{
    bad_request_message, chunk, correlation, event, events, first, identifier, refused_with,
    succeeded, Call,
};
use crate::store::embedded::SqliteStore;
use crate::store::{Direction, EventStore, ExpectedRevision, StreamStart};

// ---------------------------------------------------------------------------
// A served node

struct Served {
    _dir: tempfile::TempDir,
    store: Arc<dyn EventStore>,
    server: GrpcServer,
}

async fn served(credentials: Option<Credentials>, users: Vec<Credentials>) -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::open(&dir.path().join("events.db")).expect("store"));
    let config = GrpcConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        credentials,
        users,
        tls: None,
    };
    let server = serve(Arc::clone(&store), config).await.expect("serve");
    Served {
        _dir: dir,
        store,
        server,
    }
}

async fn open(
    served: &Served,
    authorization: Option<&str>,
) -> Call<tonic::Streaming<BatchAppendResp>> {
    try_open(served, authorization)
        .await
        .expect("batch append call")
}

async fn try_open(
    served: &Served,
    authorization: Option<&str>,
) -> Result<Call<tonic::Streaming<BatchAppendResp>>, Status> {
    let mut client: StreamsClient<Channel> =
        StreamsClient::connect(format!("http://{}", served.server.local_addr()))
            .await
            .expect("connect");
    let (requests, rx) = mpsc::channel(16);
    let mut request = Request::new(ReceiverStream::new(rx));
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().expect("header"));
    }
    let answers = client.batch_append(request).await?.into_inner();
    Ok(Call { requests, answers })
}

async fn stored(store: &dyn EventStore, stream: &str) -> Vec<String> {
    match store
        .read_stream(stream, Direction::Forwards, StreamStart::Start, 1000)
        .await
    {
        Ok(events) => events
            .into_iter()
            .map(|e| String::from_utf8_lossy(&e.data).into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn an_append_spread_over_several_requests_is_written_at_once_in_order() {
    let served = served(None, Vec::new()).await;
    let mut call = open(&served, None).await;
    let id = correlation();
    let all = events(5);
    let expected: Vec<String> = all
        .iter()
        .map(|e| String::from_utf8_lossy(&e.data).into_owned())
        .collect();
    let mut all = all.into_iter();
    call.send(first(
        &id,
        "chunked-1",
        ExpectedStreamPosition::NoStream(()),
        all.by_ref().take(2).collect(),
        false,
    ))
    .await;
    call.send(chunk(&id, all.by_ref().take(2).collect(), false))
        .await;
    // Nothing is written before the last chunk.
    call.send(chunk(&id, Vec::new(), false)).await;
    assert!(stored(served.store.as_ref(), "chunked-1").await.is_empty());
    call.send(chunk(&id, all.collect(), true)).await;

    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&id), "the id as sent");
    assert_eq!(answer.stream_identifier, identifier("chunked-1"));
    let (revision, position) = succeeded(&answer);
    assert_eq!(revision, Some(4));
    assert!(position.is_some(), "a position");
    assert_eq!(stored(served.store.as_ref(), "chunked-1").await, expected);

    // The same call goes on serving appends.
    let next = correlation();
    call.send(first(
        &next,
        "chunked-1",
        ExpectedStreamPosition::StreamPosition(4),
        events(1),
        true,
    ))
    .await;
    let answer = call.answer().await;
    assert_eq!(succeeded(&answer).0, Some(5));
    assert!(succeeded(&answer).1 > position, "positions grow");
}

#[tokio::test]
async fn appends_of_different_ids_interleave_and_are_answered_on_their_own() {
    let served = served(None, Vec::new()).await;
    let mut call = open(&served, None).await;
    let slow = correlation();
    let quick = correlation();
    call.send(first(
        &slow,
        "interleaved-a",
        ExpectedStreamPosition::Any(()),
        events(2),
        false,
    ))
    .await;
    call.send(first(
        &quick,
        "interleaved-b",
        ExpectedStreamPosition::Any(()),
        events(1),
        false,
    ))
    .await;
    call.send(chunk(&quick, events(1), true)).await;
    // `quick` is answered while `slow` still waits for its last chunk.
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&quick));
    assert_eq!(succeeded(&answer).0, Some(1));
    assert!(stored(served.store.as_ref(), "interleaved-a")
        .await
        .is_empty());

    call.send(chunk(&slow, events(1), true)).await;
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&slow));
    assert_eq!(succeeded(&answer).0, Some(2));
    assert_eq!(
        stored(served.store.as_ref(), "interleaved-a").await.len(),
        3
    );

    // Many appends in flight at once on one call all land.
    let ids: Vec<ProtoUuid> = (0..40).map(|_| correlation()).collect();
    for (n, id) in ids.iter().enumerate() {
        let stream = format!("interleaved-many-{}", n % 4);
        call.send(first(
            id,
            &stream,
            ExpectedStreamPosition::Any(()),
            events(3),
            true,
        ))
        .await;
    }
    let mut answered = Vec::new();
    for _ in &ids {
        let answer = call.answer().await;
        succeeded(&answer);
        answered.push(answer.correlation_id.expect("id"));
    }
    for id in &ids {
        assert!(answered.contains(id), "every append answered once");
    }
    for n in 0..4 {
        let stream = format!("interleaved-many-{n}");
        assert_eq!(stored(served.store.as_ref(), &stream).await.len(), 30);
    }
}

#[tokio::test]
async fn a_wrong_expected_position_is_refused_with_the_current_revision() {
    let served = served(None, Vec::new()).await;
    let mut call = open(&served, None).await;
    let id = correlation();
    call.send(first(
        &id,
        "expect-1",
        ExpectedStreamPosition::NoStream(()),
        events(3),
        true,
    ))
    .await;
    assert_eq!(succeeded(&call.answer().await).0, Some(2));

    let cases = [
        (
            ExpectedStreamPosition::StreamPosition(0),
            "expect-1",
            CurrentStreamRevisionOption::CurrentStreamRevision(2),
            ExpectedStreamPositionOption::ExpectedStreamPosition(0),
        ),
        (
            ExpectedStreamPosition::NoStream(()),
            "expect-1",
            CurrentStreamRevisionOption::CurrentStreamRevision(2),
            ExpectedStreamPositionOption::ExpectedNoStream(()),
        ),
        (
            ExpectedStreamPosition::StreamExists(()),
            "expect-missing",
            CurrentStreamRevisionOption::CurrentNoStream(()),
            ExpectedStreamPositionOption::ExpectedStreamExists(()),
        ),
    ];
    for (expected, stream, current, echoed) in cases {
        let id = correlation();
        call.send(first(&id, stream, expected, events(1), true))
            .await;
        let answer = call.answer().await;
        let error = refused_with(&answer, "WrongExpectedVersion");
        assert_eq!(error.code, Code::AlreadyExists as i32);
        let any = error.details.as_ref().expect("detail");
        let detail = shared::WrongExpectedVersion::decode(any.value.as_slice()).expect("decode");
        assert_eq!(detail.current_stream_revision_option, Some(current));
        assert_eq!(detail.expected_stream_position_option, Some(echoed));
        assert_eq!(answer.stream_identifier, identifier(stream));
    }
    assert_eq!(stored(served.store.as_ref(), "expect-1").await.len(), 3);
}

#[tokio::test]
async fn a_tombstoned_stream_is_refused_as_deleted() {
    let served = served(None, Vec::new()).await;
    served
        .store
        .append("doomed-b", ExpectedRevision::Any, Vec::new())
        .await
        .expect("empty append");
    let mut call = open(&served, None).await;
    let id = correlation();
    call.send(first(
        &id,
        "doomed-b",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    ))
    .await;
    succeeded(&call.answer().await);
    served
        .store
        .tombstone_stream("doomed-b", ExpectedRevision::Any)
        .await
        .expect("tombstone");
    let id = correlation();
    call.send(first(
        &id,
        "doomed-b",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    ))
    .await;
    let answer = call.answer().await;
    let error = refused_with(&answer, "StreamDeleted");
    assert_eq!(error.code, Code::NotFound as i32);
    let any = error.details.as_ref().expect("detail");
    let detail = shared::StreamDeleted::decode(any.value.as_slice()).expect("decode");
    assert_eq!(detail.stream_identifier, identifier("doomed-b"));
}

#[tokio::test]
async fn ordinary_users_are_denied_system_streams_per_append() {
    let served = served(
        Some(Credentials::parse("admin:changeit").expect("admin")),
        vec![Credentials::parse("user:pw").expect("user")],
    )
    .await;
    // `user:pw` in basic authentication.
    let mut call = open(&served, Some("Basic dXNlcjpwdw==")).await;
    let denied = correlation();
    call.send(first(
        &denied,
        "$connectors/x",
        ExpectedStreamPosition::Any(()),
        events(1),
        false,
    ))
    .await;
    let answer = call.answer().await;
    let error = refused_with(&answer, "AccessDenied");
    assert_eq!(error.code, Code::PermissionDenied as i32);
    assert_eq!(answer.correlation_id.as_ref(), Some(&denied));
    // Its remaining chunks are dropped without another answer, and the
    // call goes on with appends the user may make.
    call.send(chunk(&denied, events(1), true)).await;
    let allowed = correlation();
    call.send(first(
        &allowed,
        "user-stream",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    ))
    .await;
    let answer = call.answer().await;
    assert_eq!(answer.correlation_id.as_ref(), Some(&allowed));
    succeeded(&answer);
    assert!(stored(served.store.as_ref(), "$connectors/x")
        .await
        .is_empty());

    // Without credentials the whole call is refused.
    let refused = try_open(&served, None)
        .await
        .err()
        .expect("a call without credentials is refused");
    assert_eq!(refused.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_node_without_users_accepts_calls_that_carry_credentials() {
    let served = served(None, Vec::new()).await;
    // `admin:changeit`, which this node does not know.
    let mut call = open(&served, Some("Basic YWRtaW46Y2hhbmdlaXQ=")).await;
    let id = correlation();
    call.send(first(
        &id,
        "open-node",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    ))
    .await;
    assert_eq!(succeeded(&call.answer().await).0, Some(0));
}

#[tokio::test]
async fn metadata_streams_and_bad_events_get_the_append_answers() {
    let served = served(None, Vec::new()).await;
    let mut call = open(&served, None).await;
    let id = correlation();
    let metadata = event("$metadata", r#"{"$maxCount": 3}"#);
    call.send(first(
        &id,
        "$$meta-b",
        ExpectedStreamPosition::Any(()),
        vec![metadata],
        true,
    ))
    .await;
    assert_eq!(succeeded(&call.answer().await).0, Some(0));
    let stored_metadata = served
        .store
        .stream_metadata("meta-b")
        .await
        .expect("metadata")
        .expect("set");
    assert_eq!(stored_metadata.max_count, Some(3));

    let id = correlation();
    call.send(first(
        &id,
        "$$meta-b",
        ExpectedStreamPosition::Any(()),
        events(1),
        true,
    ))
    .await;
    let message = bad_request_message(&call.answer().await);
    assert!(message.contains("$metadata"), "{message}");

    let id = correlation();
    call.send(first(
        &id,
        "typeless",
        ExpectedStreamPosition::Any(()),
        vec![event("", "{}")],
        true,
    ))
    .await;
    let message = bad_request_message(&call.answer().await);
    assert!(message.contains("`type`"), "{message}");
    assert!(stored(served.store.as_ref(), "typeless").await.is_empty());
}

#[tokio::test]
async fn the_node_lists_batch_append_with_deadline_durations() {
    let served = served(None, Vec::new()).await;
    let mut features =
        ServerFeaturesClient::connect(format!("http://{}", served.server.local_addr()))
            .await
            .expect("connect");
    let methods = features
        .get_supported_methods(Empty {})
        .await
        .expect("features")
        .into_inner()
        .methods;
    let batch = methods
        .iter()
        .find(|m| {
            // Exactly as KurrentDB lists it: the Rust client compares so.
            m.service_name == "event_store.client.streams.streams" && m.method_name == "batchappend"
        })
        .expect("BatchAppend listed");
    assert_eq!(batch.features, vec!["deadline_duration".to_owned()]);
}
