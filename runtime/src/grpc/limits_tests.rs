//! Bounded work on the gRPC protocol: every field of an append counts
//! towards its size limit, event types are capped, and reads of large
//! events go out in pages bounded in bytes without losing any.

use std::collections::HashMap;
use std::sync::Arc;

use tonic::transport::Channel;
use tonic::{Code, Request};

use super::proto::streams::append_req::options::ExpectedStreamRevision;
use super::proto::streams::read_req::options::{
    stream_options::RevisionOption, CountOption, FilterOption, ReadDirection, StreamOption,
    StreamOptions, UuidOption,
};
use super::proto::streams::read_req::{options::uuid_option, Options};
use super::proto::streams::streams_client::StreamsClient;
use super::proto::streams::{append_req, read_resp, AppendReq, ReadReq};
use super::proto::{Empty, StreamIdentifier};
use super::{serve, GrpcConfig, GrpcServer};
use crate::store::embedded::SqliteStore;
use crate::store::EventStore;

const MIB: usize = 1024 * 1024;

async fn served() -> (tempfile::TempDir, GrpcServer, StreamsClient<Channel>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::open(&dir.path().join("events.db")).expect("store"));
    let config = GrpcConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        credentials: None,
        users: Vec::new(),
        tls: None,
    };
    let server = serve(store, config).await.expect("serve");
    let client = StreamsClient::connect(format!("http://{}", server.local_addr()))
        .await
        .expect("connect")
        .max_decoding_message_size(8 * MIB);
    (dir, server, client)
}

fn stream(name: &str) -> Option<StreamIdentifier> {
    Some(StreamIdentifier {
        stream_name: name.as_bytes().to_vec(),
    })
}

fn options(name: &str) -> AppendReq {
    AppendReq {
        content: Some(append_req::Content::Options(append_req::Options {
            stream_identifier: stream(name),
            expected_stream_revision: Some(ExpectedStreamRevision::Any(Empty {})),
        })),
    }
}

fn proposed(event_type: &str, extra: Option<(String, String)>, data: Vec<u8>) -> AppendReq {
    let mut metadata = HashMap::from([
        ("type".to_owned(), event_type.to_owned()),
        (
            "content-type".to_owned(),
            "application/octet-stream".to_owned(),
        ),
    ]);
    metadata.extend(extra);
    AppendReq {
        content: Some(append_req::Content::ProposedMessage(
            append_req::ProposedMessage {
                id: Some(super::convert::uuid_to_proto(uuid::Uuid::new_v4(), false)),
                metadata,
                custom_metadata: Vec::new(),
                data,
            },
        )),
    }
}

async fn append(
    client: &mut StreamsClient<Channel>,
    messages: Vec<AppendReq>,
) -> Result<(), tonic::Status> {
    client
        .append(Request::new(tokio_stream::iter(messages)))
        .await
        .map(|_| ())
}

#[tokio::test]
async fn metadata_entries_count_towards_the_append_limit() {
    let (_dir, _server, mut client) = served().await;
    // 20 events of 1 MiB each, carried in metadata entries the store never
    // keeps: 20 MiB held by the server unless they count.
    let mut messages = vec![options("padded-1")];
    messages.extend((0..20).map(|i| {
        let padding = (format!("padding-{i}"), "x".repeat(MIB));
        proposed("Padded", Some(padding), b"{}".to_vec())
    }));
    let error = append(&mut client, messages).await.expect_err("too large");
    assert_eq!(error.code(), Code::InvalidArgument, "{error}");
    assert!(error.message().contains("Maximum Append Size"), "{error}");
}

#[tokio::test]
async fn event_types_longer_than_the_limit_are_refused() {
    let (_dir, _server, mut client) = served().await;
    let long_type = "T".repeat(crate::store::MAX_EVENT_TYPE_BYTES + 1);
    let error = append(
        &mut client,
        vec![
            options("typed-1"),
            proposed(&long_type, None, b"{}".to_vec()),
        ],
    )
    .await
    .expect_err("refused");
    assert_eq!(error.code(), Code::InvalidArgument, "{error}");
    assert!(error.message().contains("the most is 1024"), "{error}");
    let fits = "T".repeat(crate::store::MAX_EVENT_TYPE_BYTES);
    append(
        &mut client,
        vec![options("typed-1"), proposed(&fits, None, b"{}".to_vec())],
    )
    .await
    .expect("a type at the limit is accepted");
}

#[tokio::test]
async fn reads_of_large_events_send_every_event_in_byte_bounded_pages() {
    let (_dir, _server, mut client) = served().await;
    // Twelve events of 1 MiB: three pages of 4 MiB.
    for n in 0..12u8 {
        let mut data = vec![n; MIB];
        data[0] = n;
        append(
            &mut client,
            vec![options("large-1"), proposed("Large", None, data)],
        )
        .await
        .expect("append");
    }
    let request = ReadReq {
        options: Some(Options {
            stream_option: Some(StreamOption::Stream(StreamOptions {
                stream_identifier: stream("large-1"),
                revision_option: Some(RevisionOption::Start(Empty {})),
            })),
            read_direction: ReadDirection::Forwards as i32,
            resolve_links: false,
            count_option: Some(CountOption::Count(100)),
            filter_option: Some(FilterOption::NoFilter(Empty {})),
            uuid_option: Some(UuidOption {
                content: Some(uuid_option::Content::Structured(Empty {})),
            }),
            control_option: None,
        }),
    };
    let mut responses = client.read(request).await.expect("read").into_inner();
    let mut firsts = Vec::new();
    while let Some(message) = responses.message().await.expect("no error") {
        if let Some(read_resp::Content::Event(event)) = message.content {
            firsts.push(event.event.expect("event").data[0]);
        }
    }
    assert_eq!(
        firsts,
        (0..12).collect::<Vec<u8>>(),
        "every event, in order"
    );
}
