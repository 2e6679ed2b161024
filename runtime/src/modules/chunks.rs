//! The bytes of a module: `$ModuleChunk` events in `$modules/sha256:<hex>`,
//! written in appends small enough for KurrentDB's default append size.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::registry::{ModuleRegistry, ATTEMPTS, CHUNK_BYTES, CHUNK_EVENT, MAX_APPEND_BYTES};
use super::{chunk_stream, ModuleError};
use crate::store::{
    ContentType, Direction, ExpectedRevision, NewEvent, RecordedEvent, StoreError, StreamStart,
};

const CHUNK_PAGE: usize = 16;

/// The metadata of a `$ModuleChunk`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChunkMetadata {
    digest: String,
    index: u64,
    of: u64,
}

impl ModuleRegistry {
    /// Stores `bytes` as the chunks of `digest`, returning how many there
    /// are. When the stream exists already, the same content was (being)
    /// stored: a complete stream is kept, an interrupted one completed, and
    /// one that does not match is replaced.
    pub(super) async fn write_chunks(
        &self,
        digest: &str,
        bytes: &[u8],
    ) -> Result<u64, ModuleError> {
        let stream = chunk_stream(digest);
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK_BYTES).collect();
        let total = chunks.len() as u64;
        let mut next = 0;
        let mut expected = ExpectedRevision::NoStream;
        for _ in 0..ATTEMPTS {
            match self
                .append_chunks(&stream, digest, &chunks, next, expected)
                .await
            {
                Ok(()) => return Ok(total),
                Err(StoreError::WrongExpectedRevision { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let stored = self.read_chunks(&stream).await?;
            let Some(last) = stored.last() else {
                (next, expected) = (0, ExpectedRevision::NoStream);
                continue;
            };
            let consistent = stored.len() <= chunks.len()
                && stored
                    .iter()
                    .zip(&chunks)
                    .all(|(event, chunk)| event.event_type == CHUNK_EVENT && event.data == *chunk);
            if consistent && stored.len() == chunks.len() {
                return Ok(total);
            }
            if consistent {
                tracing::info!(
                    stream,
                    stored = stored.len(),
                    total,
                    "completing an interrupted module upload"
                );
                (next, expected) = (stored.len(), ExpectedRevision::Exact(last.revision));
                continue;
            }
            tracing::warn!(
                stream,
                "replacing module chunks that do not match their digest"
            );
            match self
                .inner
                .store
                .delete_stream(&stream, ExpectedRevision::Exact(last.revision))
                .await
            {
                Ok(()) | Err(StoreError::WrongExpectedRevision { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            (next, expected) = (0, ExpectedRevision::NoStream);
        }
        Err(ModuleError::Store(StoreError::Unavailable(format!(
            "`{stream}` kept changing while storing the module; retry"
        ))))
    }

    /// Appends `chunks[next..]` in appends of at most [`MAX_APPEND_BYTES`],
    /// the first one at `expected`.
    async fn append_chunks(
        &self,
        stream: &str,
        digest: &str,
        chunks: &[&[u8]],
        next: usize,
        mut expected: ExpectedRevision,
    ) -> Result<(), StoreError> {
        let of = chunks.len() as u64;
        let mut i = next;
        while i < chunks.len() {
            let mut batch = Vec::new();
            let mut batch_bytes = 0;
            while i < chunks.len()
                && (batch.is_empty() || batch_bytes + chunks[i].len() <= MAX_APPEND_BYTES)
            {
                batch_bytes += chunks[i].len();
                let metadata = ChunkMetadata {
                    digest: digest.to_owned(),
                    index: i as u64,
                    of,
                };
                batch.push(NewEvent {
                    id: Uuid::new_v4(),
                    event_type: CHUNK_EVENT.to_owned(),
                    content_type: ContentType::Binary,
                    data: Bytes::copy_from_slice(chunks[i]),
                    metadata: serde_json::to_vec(&metadata).unwrap_or_default().into(),
                });
                i += 1;
            }
            let result = self.inner.store.append(stream, expected, batch).await?;
            expected = ExpectedRevision::Exact(result.next_expected_revision);
        }
        Ok(())
    }

    /// Every event of a chunk stream; none when it does not exist.
    pub(super) async fn read_chunks(
        &self,
        stream: &str,
    ) -> Result<Vec<RecordedEvent>, ModuleError> {
        let mut events = Vec::new();
        let mut from = StreamStart::Start;
        loop {
            let page = match self
                .inner
                .store
                .read_stream(stream, Direction::Forwards, from, CHUNK_PAGE)
                .await
            {
                Ok(page) => page,
                Err(StoreError::StreamNotFound(_)) => return Ok(events),
                Err(e) => return Err(e.into()),
            };
            let full = page.len() == CHUNK_PAGE;
            if let Some(last) = page.last() {
                from = StreamStart::Revision(last.revision + 1);
            }
            events.extend(page);
            if !full {
                return Ok(events);
            }
        }
    }
}
