//! The KurrentDB 25.1 "v2" streams service: `AppendSession`, one atomic
//! append to several streams ([`crate::store::EventStore::append_streams`]).
//!
//! The client streams one `AppendRequest` per stream (its records and
//! expected revision), then closes its side; the service checks each as it
//! arrives (the caller's right to write the stream, as for `Streams.Append`;
//! the stream not named before, ignoring case, as KurrentDB; each record's
//! size and the session's total, so memory stays bounded), appends them all
//! at once, and answers every stream's revision with the position of the
//! last record written (`-1` when every request was empty: each stream was
//! only checked). [`records`] turns requests into store appends,
//! [`errors`] failures into the rich statuses KurrentDB sends.
//! `AppendRecords` (26.1) is not served.

mod errors;
mod records;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use tonic::{Request, Response, Status, Streaming};

use super::acl::Principal;
use super::proto::kurrentdb::protocol::v2::streams::streams_service_server::StreamsService;
use super::proto::kurrentdb::protocol::v2::streams::{
    AppendRequest, AppendResponse, AppendSessionResponse,
};
use crate::store::{CurrentRevision, EventStore, StreamAppend};

pub use super::proto::kurrentdb::protocol::v2::streams::streams_service_server::StreamsServiceServer;

/// The service name clients look for in the server's features.
pub const SERVICE: &str = "kurrentdb.protocol.v2.streams.StreamsService";

/// Size limits of an append session, in bytes as [`records::record_bytes`]
/// counts them.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_record_bytes: usize,
    pub max_session_bytes: usize,
}

/// The v2 streams service over a store.
pub struct V2Streams {
    store: Arc<dyn EventStore>,
    limits: Limits,
}

impl V2Streams {
    pub fn new(store: Arc<dyn EventStore>, limits: Limits) -> Self {
        Self { store, limits }
    }
}

#[tonic::async_trait]
impl StreamsService for V2Streams {
    async fn append_session(
        &self,
        request: Request<Streaming<AppendRequest>>,
    ) -> Result<Response<AppendSessionResponse>, Status> {
        let principal = Principal::of(&request);
        let appends = receive(principal, request.into_inner(), self.limits).await?;
        let result = self
            .store
            .append_streams(appends)
            .await
            .map_err(errors::from_store)?;
        let output = result
            .streams
            .into_iter()
            .map(|appended| AppendResponse {
                stream: appended.stream,
                stream_revision: match appended.revision {
                    CurrentRevision::NoStream => records::NO_STREAM,
                    CurrentRevision::Current(revision) => {
                        i64::try_from(revision).unwrap_or(i64::MAX)
                    }
                },
                position: None,
            })
            .collect();
        let position = result
            .position
            .map_or(-1, |p| i64::try_from(p.commit).unwrap_or(i64::MAX));
        Ok(Response::new(AppendSessionResponse { output, position }))
    }
}

/// Reads the whole session, checking each request as it arrives.
async fn receive(
    principal: Principal,
    mut requests: Streaming<AppendRequest>,
    limits: Limits,
) -> Result<Vec<StreamAppend>, Status> {
    let mut appends = Vec::new();
    let mut seen = HashSet::new();
    let mut session_bytes = 0usize;
    let mut records = 0usize;
    while let Some(request) = requests.message().await? {
        if request.stream.is_empty() {
            return Err(Status::invalid_argument(
                "an append request names no stream",
            ));
        }
        principal.check_stream(&request.stream)?;
        // Empty requests cost little each, but not nothing.
        session_bytes = session_bytes.saturating_add(request.stream.len());
        if !seen.insert(request.stream.to_lowercase()) {
            return Err(errors::stream_twice(&request.stream));
        }
        let mut ids = Vec::with_capacity(request.records.len());
        for record in &request.records {
            let id = records::record_id(record)?;
            let size = records::record_bytes(record);
            if size > limits.max_record_bytes {
                return Err(errors::record_too_large(
                    &request.stream,
                    &id.to_string(),
                    size,
                    limits.max_record_bytes,
                ));
            }
            session_bytes = session_bytes.saturating_add(size);
            records += 1;
            if session_bytes > limits.max_session_bytes {
                return Err(errors::session_too_large(
                    session_bytes,
                    limits.max_session_bytes,
                    records,
                ));
            }
            ids.push(id);
        }
        appends.push(records::stream_append(request, ids)?);
    }
    if appends.is_empty() {
        return Err(errors::no_requests());
    }
    Ok(appends)
}
