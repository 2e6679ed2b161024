//! The Streams service: reads and subscriptions (each answered by a task
//! feeding the response stream), appends, batch appends
//! ([`super::batch_append`]), deletes and tombstones, each checked against
//! the caller's rights ([`super::acl`]).

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use super::acl::Principal;
use super::append;
use super::batch_append;
use super::convert::{stream_name, Expected};
use super::proto::streams::streams_server::Streams;
use super::proto::streams::{
    delete_resp, tombstone_resp, AppendReq, AppendResp, BatchAppendReq, BatchAppendResp, DeleteReq,
    DeleteResp, ReadReq, ReadResp, TombstoneReq, TombstoneResp,
};
use super::proto::Empty;
use super::read;
use super::replies::{fail, Sender};
use super::request::{ReadPlan, ReadRequest};
use super::status;
use super::subscribe;
use crate::store::EventStore;

/// Messages buffered per read before the task waits for the client.
const READ_BUFFER: usize = 256;

pub struct StreamsService {
    store: Arc<dyn EventStore>,
    /// Cancelled when the server stops: subscriptions end with `unavailable`
    /// so clients reconnect, instead of holding the shutdown forever.
    shutdown: CancellationToken,
    max_append_bytes: usize,
}

impl StreamsService {
    pub fn new(
        store: Arc<dyn EventStore>,
        shutdown: CancellationToken,
        max_append_bytes: usize,
    ) -> Self {
        Self {
            store,
            shutdown,
            max_append_bytes,
        }
    }
}

/// Carries out a read request until it is done, the client goes away, or
/// the server stops.
async fn run(
    store: Arc<dyn EventStore>,
    tx: Sender,
    request: ReadRequest,
    stop: CancellationToken,
) {
    let ids = request.structured_ids;
    let store = store.as_ref();
    let work = async {
        match request.plan {
            ReadPlan::Stream {
                stream,
                direction,
                from,
                count,
            } => read::stream(store, &tx, &stream, direction, from, count, ids).await,
            ReadPlan::All {
                direction,
                from,
                count,
                filter,
            } => read::all(store, &tx, direction, from, count, filter.as_ref(), ids).await,
            ReadPlan::SubscribeStream { stream, from } => {
                subscribe::stream(store, &tx, &stream, from, ids).await
            }
            ReadPlan::SubscribeAll { from, filter } => {
                subscribe::all(store, &tx, from, filter, ids).await
            }
        }
    };
    tokio::select! {
        () = work => {}
        () = tx.closed() => {}
        () = stop.cancelled() => {
            fail(&tx, Status::unavailable("the server is shutting down")).await;
        }
    }
}

#[tonic::async_trait]
impl Streams for StreamsService {
    type ReadStream = ReceiverStream<Result<ReadResp, Status>>;
    type BatchAppendStream = ReceiverStream<Result<BatchAppendResp, Status>>;

    async fn read(&self, request: Request<ReadReq>) -> Result<Response<Self::ReadStream>, Status> {
        let principal = Principal::of(&request);
        let request = ReadRequest::parse(request.into_inner().options)?;
        match &request.plan {
            ReadPlan::Stream { stream, .. } | ReadPlan::SubscribeStream { stream, .. } => {
                principal.check_stream(stream)?
            }
            ReadPlan::All { .. } | ReadPlan::SubscribeAll { .. } => principal.check_all()?,
        }
        let (tx, rx) = mpsc::channel(READ_BUFFER);
        tokio::spawn(run(
            Arc::clone(&self.store),
            tx,
            request,
            self.shutdown.clone(),
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn append(
        &self,
        request: Request<Streaming<AppendReq>>,
    ) -> Result<Response<AppendResp>, Status> {
        let principal = Principal::of(&request);
        let answer = append::append(
            self.store.as_ref(),
            principal,
            request.into_inner(),
            self.max_append_bytes,
        )
        .await?;
        Ok(Response::new(answer))
    }

    async fn batch_append(
        &self,
        request: Request<Streaming<BatchAppendReq>>,
    ) -> Result<Response<Self::BatchAppendStream>, Status> {
        let principal = Principal::of(&request);
        Ok(Response::new(batch_append::serve(
            Arc::clone(&self.store),
            principal,
            request.into_inner(),
            batch_append::Limits::new(self.max_append_bytes),
            self.shutdown.clone(),
        )))
    }

    async fn delete(&self, request: Request<DeleteReq>) -> Result<Response<DeleteResp>, Status> {
        let principal = Principal::of(&request);
        let options = request
            .into_inner()
            .options
            .ok_or_else(|| Status::invalid_argument("the delete has no options"))?;
        let stream = writable_stream(options.stream_identifier)?;
        principal.check_stream(&stream)?;
        let Expected(expected) = options.expected_stream_revision.into();
        self.store
            .delete_stream(&stream, expected)
            .await
            .map_err(status::from_store)?;
        Ok(Response::new(DeleteResp {
            position_option: Some(delete_resp::PositionOption::NoPosition(Empty {})),
        }))
    }

    async fn tombstone(
        &self,
        request: Request<TombstoneReq>,
    ) -> Result<Response<TombstoneResp>, Status> {
        let principal = Principal::of(&request);
        let options = request
            .into_inner()
            .options
            .ok_or_else(|| Status::invalid_argument("the tombstone has no options"))?;
        let stream = writable_stream(options.stream_identifier)?;
        principal.check_stream(&stream)?;
        let Expected(expected) = options.expected_stream_revision.into();
        self.store
            .tombstone_stream(&stream, expected)
            .await
            .map_err(status::from_store)?;
        Ok(Response::new(TombstoneResp {
            position_option: Some(tombstone_resp::PositionOption::NoPosition(Empty {})),
        }))
    }
}

/// The stream a delete or tombstone names; metadata streams are refused.
fn writable_stream(identifier: Option<super::proto::StreamIdentifier>) -> Result<String, Status> {
    let stream = stream_name(identifier)?;
    if let Some(target) = stream.strip_prefix("$$") {
        return Err(Status::invalid_argument(format!(
            "`{stream}` is a metadata stream; set the metadata of `{target}` instead"
        )));
    }
    Ok(stream)
}
