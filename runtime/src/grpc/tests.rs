//! The protocol details clients depend on, checked on the wire with a raw
//! generated client against a served embedded store.

use std::sync::Arc;
use std::time::Duration;

use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use uuid::Uuid;

use super::proto::streams::append_resp::{self, wrong_expected_version as wev};
use super::proto::streams::read_req::options::{
    all_options::AllOption, stream_options::RevisionOption, AllOptions, CountOption, FilterOption,
    ReadDirection, StreamOption, StreamOptions, SubscriptionOptions, UuidOption,
};
use super::proto::streams::read_req::{options::uuid_option, Options};
use super::proto::streams::streams_client::StreamsClient;
use super::proto::streams::{
    append_req, read_resp, tombstone_req, AppendReq, ReadReq, ReadResp, TombstoneReq,
};
use super::proto::{Empty, StreamIdentifier};
use super::{serve, Credentials, GrpcConfig, GrpcServer};
use crate::store::embedded::SqliteStore;
use crate::store::EventStore;

struct Served {
    _dir: tempfile::TempDir,
    server: GrpcServer,
}

async fn served(credentials: Option<Credentials>) -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::open(&dir.path().join("events.db")).expect("store"));
    let server = serve(
        store,
        GrpcConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            credentials,
            users: Vec::new(),
            tls: None,
        },
    )
    .await
    .expect("serve");
    Served { _dir: dir, server }
}

async fn client(served: &Served) -> StreamsClient<Channel> {
    StreamsClient::connect(format!("http://{}", served.server.local_addr()))
        .await
        .expect("connect")
}

fn identifier(stream: &str) -> Option<StreamIdentifier> {
    Some(StreamIdentifier {
        stream_name: stream.as_bytes().to_vec(),
    })
}

fn options(stream: &str, expected: append_req::options::ExpectedStreamRevision) -> AppendReq {
    AppendReq {
        content: Some(append_req::Content::Options(append_req::Options {
            stream_identifier: identifier(stream),
            expected_stream_revision: Some(expected),
        })),
    }
}

fn proposed(event_type: &str, data: &str) -> AppendReq {
    let mut metadata = std::collections::HashMap::new();
    metadata.insert("type".to_owned(), event_type.to_owned());
    metadata.insert("content-type".to_owned(), "application/json".to_owned());
    AppendReq {
        content: Some(append_req::Content::ProposedMessage(
            append_req::ProposedMessage {
                id: Some(super::convert::uuid_to_proto(Uuid::new_v4(), false)),
                metadata,
                custom_metadata: Vec::new(),
                data: data.as_bytes().to_vec(),
            },
        )),
    }
}

async fn append(
    client: &mut StreamsClient<Channel>,
    messages: Vec<AppendReq>,
) -> Result<append_resp::Result, Status> {
    let response = client
        .append(Request::new(tokio_stream::iter(messages)))
        .await?;
    Ok(response.into_inner().result.expect("a result"))
}

fn read_options(stream_option: StreamOption, count_option: CountOption) -> ReadReq {
    ReadReq {
        options: Some(Options {
            stream_option: Some(stream_option),
            read_direction: ReadDirection::Forwards as i32,
            resolve_links: false,
            count_option: Some(count_option),
            filter_option: Some(FilterOption::NoFilter(Empty {})),
            uuid_option: Some(UuidOption {
                content: Some(uuid_option::Content::Structured(Empty {})),
            }),
            control_option: None,
        }),
    }
}

fn read_stream(stream: &str) -> ReadReq {
    read_options(
        StreamOption::Stream(StreamOptions {
            stream_identifier: identifier(stream),
            revision_option: Some(RevisionOption::Start(Empty {})),
        }),
        CountOption::Count(100),
    )
}

/// The value of an event's protocol metadata entry `key`, as text.
fn entry(event: &read_resp::read_event::RecordedEvent, key: &str) -> String {
    let found = event.metadata.iter().find(|e| &e.key[..] == key.as_bytes());
    match found {
        Some(entry) => String::from_utf8(entry.value.to_vec()).expect("UTF-8"),
        None => panic!("no `{key}` in {:?}", event.metadata),
    }
}

async fn next(responses: &mut tonic::Streaming<ReadResp>) -> read_resp::Content {
    tokio::time::timeout(Duration::from_secs(10), responses.message())
        .await
        .expect("a message in time")
        .expect("no error")
        .expect("the stream goes on")
        .content
        .expect("content")
}

#[tokio::test]
async fn wrong_expected_version_sets_current_and_legacy_fields() {
    let served = served(None).await;
    let mut client = client(&served).await;
    use append_req::options::ExpectedStreamRevision as E;
    let first = append(
        &mut client,
        vec![
            options("orders-1", E::NoStream(Empty {})),
            proposed("A", "{}"),
        ],
    )
    .await
    .expect("append");
    assert!(
        matches!(first, append_resp::Result::Success(_)),
        "{first:?}"
    );
    let refused = append(
        &mut client,
        vec![options("orders-1", E::Revision(5)), proposed("B", "{}")],
    )
    .await
    .expect("a normal answer, not an error status");
    let append_resp::Result::WrongExpectedVersion(wrong) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        wrong.current_revision_option,
        Some(wev::CurrentRevisionOption::CurrentRevision(0))
    );
    assert_eq!(
        wrong.expected_revision_option,
        Some(wev::ExpectedRevisionOption::ExpectedRevision(5))
    );
    assert_eq!(
        wrong.current_revision_option_20_6_0,
        Some(wev::CurrentRevisionOption2060::CurrentRevision2060(0))
    );
    assert_eq!(
        wrong.expected_revision_option_20_6_0,
        Some(wev::ExpectedRevisionOption2060::ExpectedRevision2060(5))
    );
}

#[tokio::test]
async fn reads_carry_the_required_metadata_and_missing_streams_say_so() {
    let served = served(None).await;
    let mut client = client(&served).await;
    use append_req::options::ExpectedStreamRevision as E;
    append(
        &mut client,
        vec![
            options("orders-2", E::Any(Empty {})),
            proposed("OrderPlaced", "{\"n\":1}"),
        ],
    )
    .await
    .expect("append");
    let mut responses = client
        .read(read_stream("orders-2"))
        .await
        .expect("read")
        .into_inner();
    let read_resp::Content::Event(event) = next(&mut responses).await else {
        panic!("an event")
    };
    let recorded = event.event.expect("the event");
    assert_eq!(entry(&recorded, "type"), "OrderPlaced");
    assert_eq!(entry(&recorded, "content-type"), "application/json");
    let ticks: i64 = entry(&recorded, "created").parse().expect("ticks");
    let now = super::convert::ticks_since_epoch(chrono::Utc::now());
    assert!(
        (now - ticks).abs() < 60 * 10_000_000,
        "created is 100 ns ticks since the epoch: {ticks} vs {now}"
    );
    assert_eq!(&recorded.data[..], b"{\"n\":1}");
    assert!(
        responses.message().await.expect("no error").is_none(),
        "a read ends"
    );

    let mut missing = client
        .read(read_stream("never-written"))
        .await
        .expect("read")
        .into_inner();
    assert!(matches!(
        next(&mut missing).await,
        read_resp::Content::StreamNotFound(_)
    ));
}

#[tokio::test]
async fn subscriptions_confirm_first_then_catch_up_and_never_end() {
    let served = served(None).await;
    let mut client = client(&served).await;
    use append_req::options::ExpectedStreamRevision as E;
    append(
        &mut client,
        vec![
            options("live-1", E::Any(Empty {})),
            proposed("Before", "{}"),
        ],
    )
    .await
    .expect("append");
    let mut responses = client
        .read(read_options(
            StreamOption::All(AllOptions {
                all_option: Some(AllOption::Start(Empty {})),
            }),
            CountOption::Subscription(SubscriptionOptions {}),
        ))
        .await
        .expect("subscribe")
        .into_inner();
    assert!(
        matches!(
            next(&mut responses).await,
            read_resp::Content::Confirmation(_)
        ),
        "the confirmation comes first"
    );
    assert!(matches!(
        next(&mut responses).await,
        read_resp::Content::Event(_)
    ));
    let read_resp::Content::CaughtUp(caught_up) = next(&mut responses).await else {
        panic!("caught up after the existing events")
    };
    assert!(caught_up.position.is_some(), "{caught_up:?}");
    append(
        &mut client,
        vec![options("live-1", E::Any(Empty {})), proposed("After", "{}")],
    )
    .await
    .expect("append");
    let read_resp::Content::Event(live) = next(&mut responses).await else {
        panic!("the live event")
    };
    assert_eq!(entry(&live.event.expect("event"), "type"), "After");
    // Nothing more: the subscription stays open.
    let quiet = tokio::time::timeout(Duration::from_millis(300), responses.message()).await;
    assert!(
        quiet.is_err(),
        "a subscription never ends on its own: {quiet:?}"
    );
}

#[tokio::test]
async fn tombstoned_streams_answer_stream_deleted() {
    let served = served(None).await;
    let mut client = client(&served).await;
    use append_req::options::ExpectedStreamRevision as E;
    append(
        &mut client,
        vec![options("doomed-1", E::Any(Empty {})), proposed("A", "{}")],
    )
    .await
    .expect("append");
    client
        .tombstone(TombstoneReq {
            options: Some(tombstone_req::Options {
                stream_identifier: identifier("doomed-1"),
                expected_stream_revision: Some(
                    tombstone_req::options::ExpectedStreamRevision::Any(Empty {}),
                ),
            }),
        })
        .await
        .expect("tombstone");
    let status = append(
        &mut client,
        vec![options("doomed-1", E::Any(Empty {})), proposed("B", "{}")],
    )
    .await
    .expect_err("appending to a tombstoned stream fails");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status
            .metadata()
            .get("exception")
            .map(|v| v.to_str().unwrap_or("")),
        Some("stream-deleted")
    );
}

#[tokio::test]
async fn credentials_are_required_when_configured() {
    let served = served(Some(
        Credentials::parse("admin:changeit").expect("credentials"),
    ))
    .await;
    let mut client = client(&served).await;
    let status = client
        .read(read_stream("any"))
        .await
        .expect_err("no credentials");
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut request = Request::new(read_stream("any"));
    request.metadata_mut().insert(
        "authorization",
        "Basic YWRtaW46Y2hhbmdlaXQ=".parse().expect("header"),
    );
    let mut responses = client
        .read(request)
        .await
        .expect("authenticated")
        .into_inner();
    assert!(matches!(
        next(&mut responses).await,
        read_resp::Content::StreamNotFound(_)
    ));
}

#[tokio::test]
async fn stream_subscriptions_catch_up_in_pages_then_go_live() {
    let served = served(None).await;
    let mut client = client(&served).await;
    use append_req::options::ExpectedStreamRevision as E;
    for _ in 0..3 {
        let mut batch = vec![options("paged-1", E::Any(Empty {}))];
        batch.extend((0..200).map(|_| proposed("Paged", "{}")));
        append(&mut client, batch).await.expect("append");
        append(
            &mut client,
            vec![
                options("noise-1", E::Any(Empty {})),
                proposed("Noise", "{}"),
            ],
        )
        .await
        .expect("append noise");
    }
    let mut responses = client
        .read(read_options(
            StreamOption::Stream(StreamOptions {
                stream_identifier: identifier("paged-1"),
                revision_option: Some(RevisionOption::Revision(99)),
            }),
            CountOption::Subscription(SubscriptionOptions {}),
        ))
        .await
        .expect("subscribe")
        .into_inner();
    assert!(matches!(
        next(&mut responses).await,
        read_resp::Content::Confirmation(_)
    ));
    let mut revisions = Vec::new();
    let caught_up = loop {
        match next(&mut responses).await {
            read_resp::Content::Event(event) => {
                revisions.push(event.event.expect("event").stream_revision)
            }
            read_resp::Content::CaughtUp(caught_up) => break caught_up,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(
        revisions,
        (100..600).collect::<Vec<u64>>(),
        "after revision 99, in order"
    );
    assert_eq!(caught_up.stream_revision, Some(599));
    append(
        &mut client,
        vec![options("paged-1", E::Any(Empty {})), proposed("Live", "{}")],
    )
    .await
    .expect("append");
    let read_resp::Content::Event(live) = next(&mut responses).await else {
        panic!("the live event")
    };
    assert_eq!(live.event.expect("event").stream_revision, 600);
}
