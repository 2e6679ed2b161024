//! An [`EventStore`] backed by a KurrentDB (EventStoreDB) server, or any
//! server speaking its gRPC protocol, through the official `kurrentdb` client
//! for everything but `$all` subscriptions and multi-stream appends, which
//! this backend calls itself.
//!
//! - `connection`: connection strings (`esdb://`, `esdb+discover://`,
//!   `kurrentdb://`, `kurrentdb+discover://`, with `user:password@`, several
//!   hosts, `?tls=false`, TLS options: whatever the client accepts) and the
//!   shared client, recreated when its connection task gave up;
//! - `convert`: events, positions, expected revisions, metadata, filters;
//! - `errors`: client errors to [`StoreError`]s;
//! - `subscribe`: `$all` subscriptions that resubscribe after lost
//!   connections from the last position seen, without gaps or duplicates,
//!   reading `Streams.Read` on a channel of our own (`source`) and decoding
//!   its messages without the official client's copies (`decode`); with
//!   `tlsVerifyCert=false`, which that channel does not make, through the
//!   official client;
//! - `multi`: atomic appends to several streams through the server's v2
//!   `AppendSession` (KurrentDB 25.1 or later; older servers give
//!   [`StoreError::Unsupported`]), since the official client has no such
//!   call;
//! - `channel`: the channels of those calls (the leader for writes, the
//!   node `nodePreference` names for subscriptions, found by gossip), with
//!   clients and messages generated from our protos (`protocol`);
//! - `gossip`: the role of the node a sidecar is attached to, from the
//!   cluster's gossip ([`attached_node_role`]).
//!
//! [`KurrentStore::connect`] does not contact the server: the first request
//! does (the client waits its `discoveryInterval`, 500 ms by default, before
//! a client's first request). Requests are not retried (an append may have
//! been applied before the connection was lost); they fail with
//! [`StoreError::Unavailable`]. Subscriptions from the start or after a
//! position never fail for connection problems: they resubscribe in the
//! background; [`SubscribeFrom::End`] reads the head position first, so that
//! call fails when the server cannot be reached.
//!
//! Differences from the embedded store worth knowing:
//! - JSON events must carry valid JSON (the client re-encodes the payload;
//!   whitespace around the value is not kept), else the append is an
//!   [`StoreError::InvalidRequest`].
//! - Event ids are sent, so KurrentDB treats a retried append as a duplicate.
//! - Stream metadata is the JSON of [`StreamMetadata`] in a `$metadata`
//!   event of `$$<stream>`, exactly as KurrentDB keeps it (`$maxAge` in
//!   seconds; the client's own metadata type would write milliseconds).
//! - Reading `$all` backwards from a position includes the event at that
//!   position, as in the embedded store, whether or not the server does.
//! - Access denied (wrong credentials, ACLs) is a [`StoreError::Unavailable`]
//!   whose message starts with "access denied".

mod channel;
mod connection;
mod convert;
mod decode;
mod errors;
mod gossip;
mod multi;
mod protocol;
mod source;
mod subscribe;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kurrentdb::{
    AppendToStreamOptions, DeleteStreamOptions, ReadAllOptions, ReadStreamOptions, StreamPosition,
    TombstoneStreamOptions,
};

use self::channel::{NodeChannel, Target};
use self::connection::Connection;
use self::errors::Context;
pub use self::gossip::{attached_node_role, GossipError, NodeRole, GOSSIP_DEADLINE};
use self::source::Source;
use crate::store::{
    check_append, check_stream_appends, check_writable, AllStart, AppendResult, CurrentRevision,
    Direction, EventStore, ExpectedRevision, MultiAppendResult, NewEvent, Position, RecordedEvent,
    StoreError, StreamAppend, StreamMetadata, StreamStart, SubscribeFrom, Subscription,
    SubscriptionFilter,
};

/// The operation name of soft deletes, in errors.
const DELETE: &str = "delete";

/// How long a read may take before it fails with [`StoreError::Unavailable`].
const READ_DEADLINE: Duration = Duration::from_secs(60);

/// An [`EventStore`] on a KurrentDB server. Cheap to clone; clones share one
/// client (one HTTP/2 connection per node).
#[derive(Clone)]
pub struct KurrentStore {
    connection: Arc<Connection>,
    /// For multi-stream appends, which the official client cannot make.
    writes: Arc<NodeChannel>,
    /// For `$all` subscriptions, read and decoded here rather than by the
    /// official client (see `source`).
    reads: Arc<NodeChannel>,
}

impl KurrentStore {
    /// Creates a store for the server(s) of `connection_string`, e.g.
    /// `esdb://admin:changeit@localhost:2113?tls=false` or
    /// `kurrentdb+discover://cluster.example.com:2113`.
    ///
    /// Fails with [`StoreError::InvalidRequest`] when the string cannot be
    /// parsed (the message never contains the password) or when called
    /// outside a tokio runtime. Does not contact the server.
    pub fn connect(connection_string: &str) -> Result<KurrentStore, StoreError> {
        let settings = connection::parse_settings(connection_string)?;
        let credentials = connection::credentials(connection_string.trim());
        let writes = NodeChannel::new(settings.clone(), Target::Leader, credentials.clone())?;
        let reads = NodeChannel::new(
            settings.clone(),
            Target::Preferred(settings.node_preference()),
            credentials,
        )?;
        let connection = Connection::new(settings)?;
        tracing::debug!(
            connection = %connection::redact(connection_string),
            "created a KurrentDB store"
        );
        Ok(KurrentStore {
            connection: Arc::new(connection),
            writes: Arc::new(writes),
            reads: Arc::new(reads),
        })
    }

    /// Deletes `stream` for good (see [`EventStore::tombstone_stream`]).
    async fn tombstone(&self, stream: &str, expected: ExpectedRevision) -> Result<(), StoreError> {
        check_writable(stream)?;
        let options =
            TombstoneStreamOptions::default().stream_state(convert::stream_state(expected));
        let ctx = Context::stream("tombstone", stream, expected);
        let (generation, client) = self.connection.client();
        match client.tombstone_stream(stream, &options).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.delete_error(generation, e, ctx).await),
        }
    }

    /// Maps the error of a delete or tombstone; when the server's message
    /// does not say where the stream is, reads it.
    async fn delete_error(
        &self,
        generation: u64,
        error: kurrentdb::Error,
        ctx: Context<'_>,
    ) -> StoreError {
        let Some(stream) = ctx.stream else {
            return self.map_error(generation, error, ctx);
        };
        if !errors::is_wrong_expected_version(&error) {
            return self.map_error(generation, error, ctx);
        }
        let current = match &error {
            kurrentdb::Error::Grpc { message, .. } => errors::actual_version(message),
            _ => None,
        };
        let current = match current {
            Some(current) => current,
            None => match self.current_revision(stream).await {
                Ok(current) => current,
                Err(_) => return self.map_error(generation, error, ctx),
            },
        };
        let deleting = ctx.operation == DELETE;
        let any_or_none = matches!(
            ctx.expected,
            ExpectedRevision::Any | ExpectedRevision::NoStream
        );
        if deleting && any_or_none && current == CurrentRevision::NoStream {
            // Like the embedded store: deleting what is not there.
            return StoreError::StreamNotFound(stream.to_owned());
        }
        StoreError::WrongExpectedRevision {
            stream: stream.to_owned(),
            expected: ctx.expected,
            current,
        }
    }

    /// The revision of the stream's last event, from a read.
    async fn current_revision(&self, stream: &str) -> Result<CurrentRevision, StoreError> {
        match self
            .read_stream(stream, Direction::Backwards, StreamStart::End, 1)
            .await
        {
            Ok(events) => Ok(events.first().map_or(CurrentRevision::NoStream, |e| {
                CurrentRevision::Current(e.revision)
            })),
            Err(StoreError::StreamNotFound(_)) => Ok(CurrentRevision::NoStream),
            Err(e) => Err(e),
        }
    }

    /// Maps a client error, replacing the client when it has no connection
    /// left.
    fn map_error(&self, generation: u64, error: kurrentdb::Error, ctx: Context<'_>) -> StoreError {
        if errors::is_connection_failure(&error) {
            self.connection.reset(generation);
        }
        errors::store_error(error, ctx)
    }

    /// Runs a read and collects up to `max` events.
    async fn collect(
        &self,
        read: impl std::future::Future<Output = kurrentdb::Result<kurrentdb::ReadStream>>,
        generation: u64,
        max: usize,
        ctx: Context<'_>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut stream = read.await.map_err(|e| self.map_error(generation, e, ctx))?;
        let mut events = Vec::new();
        while events.len() < max {
            match stream.next().await {
                Ok(Some(resolved)) => events.extend(convert::recorded_event(resolved)),
                Ok(None) => break,
                Err(e) => return Err(self.map_error(generation, e, ctx)),
            }
        }
        Ok(events)
    }

    async fn read_all_once(
        &self,
        direction: Direction,
        from: StreamPosition<kurrentdb::Position>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let options = ReadAllOptions::default().position(from).max_count(max);
        let options = match direction {
            Direction::Forwards => options.forwards(),
            Direction::Backwards => options.backwards(),
        }
        .deadline(READ_DEADLINE);
        let (generation, client) = self.connection.client();
        let ctx = Context::all("read $all");
        self.collect(client.read_all(&options), generation, max, ctx)
            .await
    }
}

impl std::fmt::Debug for KurrentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let settings = self.connection.settings();
        f.debug_struct("KurrentStore")
            .field("hosts", settings.hosts())
            .field("tls", &settings.is_secure_mode_enabled())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl EventStore for KurrentStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        check_append(stream, &events)?;
        let batch_len = events.len();
        let data = events
            .into_iter()
            .enumerate()
            .map(|(index, event)| convert::event_data(index, event))
            .collect::<Result<Vec<_>, _>>()?;
        let options =
            AppendToStreamOptions::default().stream_state(convert::stream_state(expected));
        let (generation, client) = self.connection.client();
        match client.append_to_stream(stream, &options, data).await {
            Ok(result) => Ok(convert::append_result(&result, batch_len)),
            Err(e) => Err(self.map_error(
                generation,
                e,
                Context::stream("append to", stream, expected),
            )),
        }
    }

    async fn append_streams(
        &self,
        appends: Vec<StreamAppend>,
    ) -> Result<MultiAppendResult, StoreError> {
        check_stream_appends(&appends)?;
        multi::append_streams(&self.writes, appends).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        direction: Direction,
        from: StreamStart,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let from = match from {
            StreamStart::Start => StreamPosition::Start,
            StreamStart::End => StreamPosition::End,
            StreamStart::Revision(revision) => StreamPosition::Position(revision),
        };
        // `position` also sets the direction, so it goes first.
        let options = ReadStreamOptions::default().position(from).max_count(max);
        let options = match direction {
            Direction::Forwards => options.forwards(),
            Direction::Backwards => options.backwards(),
        }
        .deadline(READ_DEADLINE);
        let (generation, client) = self.connection.client();
        let ctx = Context::stream("read", stream, ExpectedRevision::Any);
        self.collect(client.read_stream(stream, &options), generation, max, ctx)
            .await
    }

    async fn read_all(
        &self,
        direction: Direction,
        from: AllStart,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let start = match from {
            AllStart::Start => StreamPosition::Start,
            AllStart::End => StreamPosition::End,
            AllStart::Position(p) => StreamPosition::Position(convert::client_position(p)),
        };
        let mut events = self.read_all_once(direction, start, max).await?;
        let AllStart::Position(from) = from else {
            return Ok(events);
        };
        if direction == Direction::Forwards || max == 0 {
            return Ok(events);
        }
        if events.first().is_some_and(|e| e.position == from) {
            return Ok(events);
        }
        // KurrentDB reads backwards from a position exclusively: add the
        // event at the position itself, if there is one.
        let at = match self.read_all_once(Direction::Forwards, start, 1).await {
            Ok(found) => found.into_iter().find(|e| e.position == from),
            Err(e) => {
                tracing::debug!(error = %e, position = %from, "no event at the start position");
                None
            }
        };
        if let Some(at) = at {
            events.insert(0, at);
            events.truncate(max);
        }
        Ok(events)
    }

    async fn subscribe_all(
        &self,
        from: SubscribeFrom,
        filter: SubscriptionFilter,
    ) -> Result<Subscription, StoreError> {
        // `End` is resolved now, so that a resubscription does not skip what
        // was appended while the connection was down.
        let start = match from {
            SubscribeFrom::Start => None,
            SubscribeFrom::After(position) => Some(position),
            SubscribeFrom::End => self.head_position().await?,
        };
        // Our channel verifies certificates; without that, the official
        // client's subscription.
        let source = if self.reads.verifies_certificates() {
            Source::Own(Arc::clone(&self.reads))
        } else {
            Source::Client(Arc::clone(&self.connection))
        };
        Ok(subscribe::spawn(source, start, filter))
    }

    async fn stream_metadata(&self, stream: &str) -> Result<Option<StreamMetadata>, StoreError> {
        let metadata_stream = convert::metadata_stream(stream);
        let options = ReadStreamOptions::default()
            .position(StreamPosition::End)
            .backwards()
            .max_count(1)
            .deadline(READ_DEADLINE);
        let (generation, client) = self.connection.client();
        let ctx = Context::stream("read the metadata of", stream, ExpectedRevision::Any);
        let read = client.read_stream(metadata_stream.as_str(), &options);
        match self.collect(read, generation, 1, ctx).await {
            Ok(events) => match events.first() {
                Some(event) => convert::parse_metadata(stream, &event.data).map(Some),
                None => Ok(None),
            },
            Err(StoreError::StreamNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn set_stream_metadata(
        &self,
        stream: &str,
        metadata: StreamMetadata,
    ) -> Result<(), StoreError> {
        check_writable(stream)?;
        let event = convert::metadata_event(&metadata)?;
        let options = AppendToStreamOptions::default();
        let (generation, client) = self.connection.client();
        let metadata_stream = convert::metadata_stream(stream);
        match client
            .append_to_stream(metadata_stream.as_str(), &options, event)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.map_error(
                generation,
                e,
                Context::stream("set the metadata of", stream, ExpectedRevision::Any),
            )),
        }
    }

    async fn delete_stream(
        &self,
        stream: &str,
        expected: ExpectedRevision,
    ) -> Result<(), StoreError> {
        check_writable(stream)?;
        let options = DeleteStreamOptions::default().stream_state(convert::stream_state(expected));
        let ctx = Context::stream(DELETE, stream, expected);
        let (generation, client) = self.connection.client();
        match client.delete_stream(stream, &options).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.delete_error(generation, e, ctx).await),
        }
    }

    async fn tombstone_stream(
        &self,
        stream: &str,
        expected: ExpectedRevision,
    ) -> Result<(), StoreError> {
        self.tombstone(stream, expected).await
    }

    async fn head_position(&self) -> Result<Option<Position>, StoreError> {
        let last = self
            .read_all_once(Direction::Backwards, StreamPosition::End, 1)
            .await?;
        Ok(last.first().map(|e| e.position))
    }
}
