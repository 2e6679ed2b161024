//! `AppendSession` on the wire: a generated client against the served
//! embedded store, checking answers, rich error details, limits and access.

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Status};
use uuid::Uuid;

use super::super::proto::google::rpc;
use super::super::proto::kurrentdb::protocol::v2::streams::errors::{
    AppendRecordSizeExceededErrorDetails, AppendTransactionSizeExceededErrorDetails,
    StreamAlreadyInAppendSessionErrorDetails, StreamRevisionConflictErrorDetails,
    StreamTombstonedErrorDetails,
};
use super::super::proto::kurrentdb::protocol::v2::streams::streams_service_client::StreamsServiceClient;
use super::super::proto::kurrentdb::protocol::v2::streams::{
    AppendRecord, AppendRequest, AppendSessionResponse, SchemaFormat, SchemaInfo,
};
use super::super::proto::server_features::server_features_client::ServerFeaturesClient;
use super::super::proto::Empty;
use super::super::{serve, Credentials, GrpcConfig, GrpcServer};
use super::{Limits, StreamsServiceServer, V2Streams};
use crate::store::embedded::SqliteStore;
use crate::store::{Direction, EventStore, ExpectedRevision, NewEvent, StreamStart};

struct Node {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    server: GrpcServer,
}

async fn node(credentials: Option<Credentials>, users: Vec<Credentials>) -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("events.db")).expect("store");
    let server = serve(
        Arc::new(store.clone()),
        GrpcConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            credentials,
            users,
            tls: None,
        },
    )
    .await
    .expect("serve");
    Node {
        _dir: dir,
        store,
        server,
    }
}

async fn client(addr: std::net::SocketAddr) -> StreamsServiceClient<Channel> {
    StreamsServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect")
}

fn record(event_type: &str, data: &[u8]) -> AppendRecord {
    AppendRecord {
        record_id: Some(Uuid::new_v4().to_string()),
        properties: HashMap::new(),
        schema: Some(SchemaInfo {
            format: SchemaFormat::Json as i32,
            name: event_type.to_owned(),
            id: None,
        }),
        data: data.to_vec(),
        stream: String::new(),
    }
}

fn request(stream: &str, expected: Option<i64>, records: Vec<AppendRecord>) -> AppendRequest {
    AppendRequest {
        stream: stream.to_owned(),
        records,
        expected_revision: expected,
    }
}

async fn session(
    client: &mut StreamsServiceClient<Channel>,
    requests: Vec<AppendRequest>,
) -> Result<AppendSessionResponse, Status> {
    client
        .append_session(Request::new(tokio_stream::iter(requests)))
        .await
        .map(|r| r.into_inner())
}

/// The `google.rpc.Status` of the trailer: same code and message as the
/// status, one detail of the named type, decoded.
fn details<D: Message + Default>(status: &Status, code: Code, name: &str) -> D {
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.metadata().get("exception").is_none(),
        "no v1 exception entry: {status:?}"
    );
    let rich = rpc::Status::decode(status.details()).expect("a google.rpc.Status in the trailer");
    assert_eq!(rich.code, code as i32, "the code inside");
    assert_eq!(rich.message, status.message(), "the message inside");
    let any = rich.details.expect("a detail");
    assert_eq!(
        any.type_url,
        format!("type.googleapis.com/kurrentdb.protocol.v2.streams.errors.{name}")
    );
    D::decode(any.value.as_slice()).expect("the detail decodes")
}

async fn stream_len(store: &SqliteStore, stream: &str) -> usize {
    store
        .read_stream(stream, Direction::Forwards, StreamStart::Start, 100)
        .await
        .map_or(0, |events| events.len())
}

#[tokio::test]
async fn appends_to_several_streams_and_answers_each_revision() {
    let node = node(None, Vec::new()).await;
    node.store
        .append(
            "payments",
            ExpectedRevision::Any,
            vec![NewEvent::json("Opened", &serde_json::json!({}))],
        )
        .await
        .expect("seed");
    let mut client = client(node.server.local_addr()).await;
    let mut with_properties = record("OrderPlaced", br#"{"n":1}"#);
    with_properties.properties.insert(
        "tenant".into(),
        prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue("acme".into())),
        },
    );
    let id = with_properties.record_id.clone().expect("an id");
    let mut no_id = record("PaymentTaken", b"\x00\x01");
    no_id.record_id = None;
    if let Some(schema) = no_id.schema.as_mut() {
        schema.format = SchemaFormat::Bytes as i32;
    }
    let answer = session(
        &mut client,
        vec![
            request(
                "orders",
                Some(-1),
                vec![with_properties, record("OrderPaid", b"{}")],
            ),
            request("payments", Some(0), vec![no_id]),
            request("audit", None, Vec::new()),
        ],
    )
    .await
    .expect("append session");
    let revisions: Vec<(&str, i64)> = answer
        .output
        .iter()
        .map(|o| (o.stream.as_str(), o.stream_revision))
        .collect();
    assert_eq!(
        revisions,
        vec![("orders", 1), ("payments", 1), ("audit", -1)]
    );

    let orders = node
        .store
        .read_stream("orders", Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("read orders");
    let payments = node
        .store
        .read_stream("payments", Direction::Forwards, StreamStart::Start, 10)
        .await
        .expect("read payments");
    assert_eq!(
        orders[0].id.to_string(),
        id,
        "the record id is the event id"
    );
    assert_eq!(orders[0].metadata, br#"{"tenant":"acme"}"#.to_vec());
    assert_eq!(orders[0].content_type, crate::store::ContentType::Json);
    assert!(orders[1].metadata.is_empty());
    assert_eq!(payments[1].event_type, "PaymentTaken");
    assert_eq!(payments[1].content_type, crate::store::ContentType::Binary);
    assert_eq!(payments[1].data, b"\x00\x01".to_vec());
    assert_eq!(
        answer.position,
        i64::try_from(payments[1].position.commit).expect("position"),
        "the position of the last record"
    );
}

#[tokio::test]
async fn a_wrong_expectation_is_a_revision_conflict_and_writes_nothing() {
    let node = node(None, Vec::new()).await;
    let mut client = client(node.server.local_addr()).await;
    session(
        &mut client,
        vec![request("orders", None, vec![record("A", b"{}")])],
    )
    .await
    .expect("seed");
    let status = session(
        &mut client,
        vec![
            request("fresh", Some(-1), vec![record("B", b"{}")]),
            request("orders", Some(5), vec![record("C", b"{}")]),
        ],
    )
    .await
    .expect_err("a conflict");
    let conflict: StreamRevisionConflictErrorDetails = details(
        &status,
        Code::FailedPrecondition,
        "StreamRevisionConflictErrorDetails",
    );
    assert_eq!(conflict.stream, "orders");
    assert_eq!(conflict.expected_revision, 5);
    assert_eq!(conflict.actual_revision, 0);
    assert_eq!(stream_len(&node.store, "fresh").await, 0, "nothing written");
    assert_eq!(
        stream_len(&node.store, "orders").await,
        1,
        "nothing written"
    );

    let status = session(
        &mut client,
        vec![request("missing", Some(-4), vec![record("D", b"{}")])],
    )
    .await
    .expect_err("the stream does not exist");
    let conflict: StreamRevisionConflictErrorDetails = details(
        &status,
        Code::FailedPrecondition,
        "StreamRevisionConflictErrorDetails",
    );
    assert_eq!(
        (conflict.expected_revision, conflict.actual_revision),
        (-4, -1)
    );
}

#[tokio::test]
async fn tombstoned_streams_and_repeated_streams_are_refused_with_details() {
    let node = node(None, Vec::new()).await;
    node.store
        .tombstone_stream("gone", ExpectedRevision::Any)
        .await
        .expect("tombstone");
    let mut client = client(node.server.local_addr()).await;
    let status = session(
        &mut client,
        vec![
            request("kept", None, vec![record("A", b"{}")]),
            request("gone", None, vec![record("B", b"{}")]),
        ],
    )
    .await
    .expect_err("tombstoned");
    let tombstoned: StreamTombstonedErrorDetails = details(
        &status,
        Code::FailedPrecondition,
        "StreamTombstonedErrorDetails",
    );
    assert_eq!(tombstoned.stream, "gone");
    assert_eq!(stream_len(&node.store, "kept").await, 0);

    let status = session(
        &mut client,
        vec![
            request("kept", None, vec![record("A", b"{}")]),
            request("other", None, vec![record("B", b"{}")]),
            request("KEPT", None, vec![record("C", b"{}")]),
        ],
    )
    .await
    .expect_err("the same stream twice");
    let twice: StreamAlreadyInAppendSessionErrorDetails = details(
        &status,
        Code::Aborted,
        "StreamAlreadyInAppendSessionErrorDetails",
    );
    assert_eq!(twice.stream, "KEPT");
    assert_eq!(stream_len(&node.store, "kept").await, 0);

    let status = session(&mut client, Vec::new())
        .await
        .expect_err("no requests");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.details().is_empty(), "no details: {status:?}");

    let status = session(&mut client, vec![request("x", Some(-3), Vec::new())])
        .await
        .expect_err("an unknown constant");
    assert_eq!(status.code(), Code::InvalidArgument);
}

/// A server with only the v2 service and the given limits.
async fn limited(limits: Limits) -> (tempfile::TempDir, std::net::SocketAddr) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("events.db")).expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = StreamsServiceServer::new(V2Streams::new(Arc::new(store), limits));
    tokio::spawn(
        Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (dir, addr)
}

#[tokio::test]
async fn records_and_sessions_over_the_limits_are_refused_with_sizes() {
    let (_dir, addr) = limited(Limits {
        max_record_bytes: 1000,
        max_session_bytes: 2500,
    })
    .await;
    let mut client = client(addr).await;
    let big = record("Big", &[b'x'; 1200]);
    let big_id = big.record_id.clone().expect("id");
    let status = session(&mut client, vec![request("s", None, vec![big])])
        .await
        .expect_err("a record too large");
    let too_large: AppendRecordSizeExceededErrorDetails = details(
        &status,
        Code::InvalidArgument,
        "AppendRecordSizeExceededErrorDetails",
    );
    assert_eq!(too_large.stream, "s");
    assert_eq!(too_large.record_id, big_id);
    assert_eq!(too_large.max_size, 1000);
    assert!(too_large.size > 1000, "{too_large:?}");

    let medium = || record("Medium", &[b'x'; 800]);
    let status = session(
        &mut client,
        vec![
            request("a", None, vec![medium(), medium()]),
            request("b", None, vec![medium(), medium()]),
        ],
    )
    .await
    .expect_err("a session too large");
    let too_large: AppendTransactionSizeExceededErrorDetails = details(
        &status,
        Code::Aborted,
        "AppendTransactionSizeExceededErrorDetails",
    );
    assert_eq!(too_large.max_size, 2500);
    assert!(too_large.size > 2500, "{too_large:?}");

    session(
        &mut client,
        vec![request("a", None, vec![medium(), medium()])],
    )
    .await
    .expect("within the limits");
}

#[tokio::test]
async fn sessions_need_credentials_and_the_right_to_each_stream() {
    let admin = Credentials::parse("admin:changeit").expect("admin");
    let user = Credentials::parse("ops:ops-password").expect("user");
    let node = node(Some(admin), vec![user]).await;
    let mut client = client(node.server.local_addr()).await;
    let status = session(
        &mut client,
        vec![request("orders", None, vec![record("A", b"{}")])],
    )
    .await
    .expect_err("no credentials");
    assert_eq!(status.code(), Code::Unauthenticated);

    let as_user = |requests: Vec<AppendRequest>| {
        let mut request = Request::new(tokio_stream::iter(requests));
        request.metadata_mut().insert(
            "authorization",
            "Basic b3BzOm9wcy1wYXNzd29yZA==".parse().expect("header"),
        );
        request
    };
    let status = client
        .append_session(as_user(vec![
            request("orders", None, vec![record("A", b"{}")]),
            request("$connectors/x", None, vec![record("B", b"{}")]),
        ]))
        .await
        .expect_err("a system stream");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(stream_len(&node.store, "orders").await, 0);
    client
        .append_session(as_user(vec![request(
            "orders",
            None,
            vec![record("A", b"{}")],
        )]))
        .await
        .expect("an ordinary stream");
    assert_eq!(stream_len(&node.store, "orders").await, 1);
}

#[tokio::test]
async fn server_features_list_append_session_only() {
    let node = node(None, Vec::new()).await;
    let mut features =
        ServerFeaturesClient::connect(format!("http://{}", node.server.local_addr()))
            .await
            .expect("connect");
    let methods = features
        .get_supported_methods(Empty {})
        .await
        .expect("features")
        .into_inner()
        .methods;
    let v2: Vec<&str> = methods
        .iter()
        .filter(|m| m.service_name == "kurrentdb.protocol.v2.streams.streamsservice")
        .map(|m| m.method_name.as_str())
        .collect();
    assert_eq!(
        v2,
        vec!["appendsession"],
        "in lower case, as KurrentDB lists them"
    );
}
