//! Where a `$all` subscription's messages come from, one run (one call to
//! the server) at a time.
//!
//! Normally ([`Source::Own`]) from `Streams.Read` on our own channel
//! ([`NodeChannel`], the node the connection string prefers), asking for a
//! subscription to `$all` after a position with the same filter options as
//! the official client, event ids in the structured form, and the same
//! headers (credentials, `requires-leader` when the leader is preferred);
//! the answers are decoded by our own decoder (`decode`). With TLS but no certificate checks
//! (`tlsVerifyCert=false`), which our channel does not make, from the
//! official client's subscription ([`Source::Client`]) as before.
//!
//! Failures are classified the way the official client classifies a
//! status (`kurrentdb::Error::from_grpc`), so both sources resubscribe on
//! the same errors and report the same [`StoreError`]s.

use std::sync::Arc;

use http::uri::PathAndQuery;
use kurrentdb::{SubscribeToAllOptions, SubscriptionEvent};
use tonic::client::Grpc;
use tonic::metadata::MetadataValue;
use tonic::{Request, Status, Streaming};

use super::channel::NodeChannel;
use super::connection::Connection;
use super::convert::{self, ServerFilter};
use super::decode::{Malformed, ReadCodec, Received};
use super::errors::{self, Context};
use super::protocol::event_store::client::Empty;
use super::protocol::streams::read_req::options::{
    self, all_options::AllOption, uuid_option, AllOptions, CountOption, FilterOption,
    ReadDirection, StreamOption, SubscriptionOptions, UuidOption,
};
use super::protocol::streams::read_req::Options;
use super::protocol::streams::ReadReq;
use crate::store::{Position, StoreError};

/// The method called.
const READ_PATH: &str = "/event_store.client.streams.Streams/Read";

/// The largest message accepted, as the official client (an event of the
/// server's largest size and its envelope).
const MAX_MESSAGE_BYTES: usize = 17 * 1024 * 1024;

/// Where the runs of a subscription come from.
pub(super) enum Source {
    /// `Streams.Read` on our own channel, decoded here.
    Own(Arc<NodeChannel>),
    /// The official client's subscription.
    Client(Arc<Connection>),
}

/// One run of a subscription: one call, until it fails. (One value per
/// run, made once: the size of its variants does not matter.)
#[allow(clippy::large_enum_variant)]
pub(super) enum Run {
    Own(Streaming<Result<Received, Malformed>>),
    Client {
        /// The client's generation, to replace it when its connection died.
        generation: u64,
        subscription: kurrentdb::Subscription,
    },
}

/// Why a run ended (or could not start).
#[derive(Debug)]
pub(super) struct Failure {
    pub error: StoreError,
    /// Connection lost, server restarting or overloaded: subscribe again.
    pub transient: bool,
    /// The connection (or the node chosen) should be made anew.
    pub reconnect: bool,
}

impl Failure {
    fn client(error: kurrentdb::Error) -> Self {
        Failure {
            transient: errors::is_transient(&error),
            reconnect: errors::is_connection_failure(&error),
            error: errors::store_error(error, Context::all("subscribe to $all")),
        }
    }

    /// A status of our own call: classified as the official client would.
    fn status(status: Status) -> Self {
        let mut failure = Failure::client(kurrentdb::Error::from_grpc(status));
        // Another node may be the one to read from now (a lost
        // connection, an election).
        failure.reconnect = failure.transient;
        failure
    }

    /// The channel could not be made: retried while the cluster cannot
    /// be reached, reported when the settings cannot work.
    fn channel(error: StoreError) -> Self {
        Failure {
            transient: matches!(error, StoreError::Unavailable(_)),
            reconnect: false,
            error,
        }
    }
}

impl Source {
    /// Subscribes to `$all` after `after` (`None`: from the start).
    pub async fn open(
        &self,
        after: Option<Position>,
        filter: Option<&ServerFilter<'_>>,
    ) -> Result<Run, Failure> {
        match self {
            Source::Own(channel) => {
                let request = read_request(channel, after, filter);
                let channel = channel.channel().await.map_err(Failure::channel)?;
                let mut grpc = Grpc::new(channel)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES);
                grpc.ready().await.map_err(|e| {
                    Failure::status(Status::unavailable(format!("the node is not ready: {e}")))
                })?;
                let path = PathAndQuery::from_static(READ_PATH);
                match grpc.server_streaming(request, path, ReadCodec).await {
                    Ok(response) => Ok(Run::Own(response.into_inner())),
                    Err(status) => Err(Failure::status(status)),
                }
            }
            Source::Client(connection) => {
                let (generation, client) = connection.client();
                let mut options =
                    SubscribeToAllOptions::default().position(convert::subscription_start(after));
                if let Some(filter) = filter {
                    options = options.filter(filter.for_client());
                }
                Ok(Run::Client {
                    generation,
                    subscription: client.subscribe_to_all(&options).await,
                })
            }
        }
    }

    /// Makes the connection anew after `failure` of `run`, if it asks for it.
    pub fn recover(&self, run: Option<&Run>, failure: &Failure) {
        if !failure.reconnect {
            return;
        }
        match (self, run) {
            (Source::Own(channel), _) => channel.forget(),
            (Source::Client(connection), Some(Run::Client { generation, .. })) => {
                connection.reset(*generation);
            }
            (Source::Client(_), _) => {}
        }
    }
}

impl Run {
    /// The run's next message.
    pub async fn next(&mut self) -> Result<Received, Failure> {
        match self {
            Run::Own(messages) => match messages.message().await {
                Ok(Some(received)) => received.map_err(|malformed| Failure {
                    error: StoreError::Unavailable(malformed.to_string()),
                    transient: false,
                    reconnect: false,
                }),
                Ok(None) => Err(Failure::status(Status::unavailable(
                    "the server ended the subscription",
                ))),
                Err(status) => Err(Failure::status(status)),
            },
            Run::Client { subscription, .. } => {
                match subscription.next_subscription_event().await {
                    Ok(event) => Ok(client_message(event)),
                    Err(error) => Err(Failure::client(error)),
                }
            }
        }
    }
}

/// A message of the official client's subscription.
fn client_message(event: SubscriptionEvent) -> Received {
    match event {
        SubscriptionEvent::Confirmed(id) => Received::Confirmed(id),
        SubscriptionEvent::EventAppeared(resolved) => {
            convert::recorded_event(resolved).map_or(Received::Nothing, Received::Event)
        }
        SubscriptionEvent::Checkpoint(position) => {
            Received::Checkpoint(convert::position(position))
        }
        SubscriptionEvent::CaughtUp(_) => Received::CaughtUp,
        SubscriptionEvent::FellBehind(_)
        | SubscriptionEvent::FirstStreamPosition(_)
        | SubscriptionEvent::LastStreamPosition(_)
        | SubscriptionEvent::LastAllPosition(_) => Received::Nothing,
    }
}

/// The `Streams.Read` request of a subscription to `$all` after `after`,
/// as the official client makes it but for structured event ids.
fn read_request(
    channel: &NodeChannel,
    after: Option<Position>,
    filter: Option<&ServerFilter<'_>>,
) -> Request<ReadReq> {
    let all_option = match after {
        Some(position) => AllOption::Position(options::Position {
            commit_position: position.commit,
            prepare_position: position.prepare,
        }),
        None => AllOption::Start(Empty {}),
    };
    let filter_option = match filter {
        Some(filter) => FilterOption::Filter(filter.options()),
        None => FilterOption::NoFilter(Empty {}),
    };
    let options = Options {
        stream_option: Some(StreamOption::All(AllOptions {
            all_option: Some(all_option),
        })),
        read_direction: ReadDirection::Forwards as i32,
        resolve_links: false,
        count_option: Some(CountOption::Subscription(SubscriptionOptions {})),
        filter_option: Some(filter_option),
        uuid_option: Some(UuidOption {
            content: Some(uuid_option::Content::Structured(Empty {})),
        }),
        control_option: None,
    };
    let mut request = Request::new(ReadReq {
        options: Some(options),
    });
    let headers = request.metadata_mut();
    if let Some(authorization) = channel.authorization() {
        headers.insert("authorization", authorization.clone());
    }
    if channel.requires_leader() {
        headers.insert("requires-leader", MetadataValue::from_static("true"));
    }
    request
}
