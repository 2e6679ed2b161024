//! A store whose appends and reads are timed into the node's metrics
//! (`connectors_store_operation_duration_seconds`, by operation); every
//! call goes to the store underneath unchanged. Subscriptions are not
//! timed: they last as long as their pipeline.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::{
    AllStart, AppendResult, Direction, EventStore, ExpectedRevision, MultiAppendResult, NewEvent,
    Page, Position, RecordedEvent, StoreError, StreamAppend, StreamMetadata, StreamStart,
    SubscribeFrom, Subscription, SubscriptionFilter,
};
use crate::metrics::{Metrics, StoreOperation, StoreTimer};

/// `store`, with its appends and reads timed.
pub struct Metered {
    store: Arc<dyn EventStore>,
    append: StoreTimer,
    read_stream: StoreTimer,
    read_all: StoreTimer,
}

impl Metered {
    pub fn new(store: Arc<dyn EventStore>, metrics: &Metrics) -> Self {
        Self {
            store,
            append: metrics.store_timer(StoreOperation::Append),
            read_stream: metrics.store_timer(StoreOperation::ReadStream),
            read_all: metrics.store_timer(StoreOperation::ReadAll),
        }
    }
}

#[async_trait]
impl EventStore for Metered {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let started = Instant::now();
        let result = self.store.append(stream, expected, events).await;
        self.append.observe_since(started);
        result
    }
    async fn append_streams(
        &self,
        appends: Vec<StreamAppend>,
    ) -> Result<MultiAppendResult, StoreError> {
        let started = Instant::now();
        let result = self.store.append_streams(appends).await;
        self.append.observe_since(started);
        result
    }
    async fn read_stream(
        &self,
        stream: &str,
        direction: Direction,
        from: StreamStart,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let started = Instant::now();
        let result = self.store.read_stream(stream, direction, from, max).await;
        self.read_stream.observe_since(started);
        result
    }
    async fn read_all(
        &self,
        direction: Direction,
        from: AllStart,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let started = Instant::now();
        let result = self.store.read_all(direction, from, max).await;
        self.read_all.observe_since(started);
        result
    }
    async fn read_stream_page(
        &self,
        stream: &str,
        direction: Direction,
        from: StreamStart,
        max: usize,
        max_bytes: usize,
    ) -> Result<Page, StoreError> {
        let started = Instant::now();
        let result = self
            .store
            .read_stream_page(stream, direction, from, max, max_bytes)
            .await;
        self.read_stream.observe_since(started);
        result
    }
    async fn read_all_page(
        &self,
        direction: Direction,
        from: AllStart,
        max: usize,
        max_bytes: usize,
    ) -> Result<Page, StoreError> {
        let started = Instant::now();
        let result = self
            .store
            .read_all_page(direction, from, max, max_bytes)
            .await;
        self.read_all.observe_since(started);
        result
    }
    async fn subscribe_all(
        &self,
        from: SubscribeFrom,
        filter: SubscriptionFilter,
    ) -> Result<Subscription, StoreError> {
        self.store.subscribe_all(from, filter).await
    }
    async fn stream_metadata(&self, stream: &str) -> Result<Option<StreamMetadata>, StoreError> {
        self.store.stream_metadata(stream).await
    }
    async fn set_stream_metadata(
        &self,
        stream: &str,
        metadata: StreamMetadata,
    ) -> Result<(), StoreError> {
        self.store.set_stream_metadata(stream, metadata).await
    }
    async fn delete_stream(
        &self,
        stream: &str,
        expected: ExpectedRevision,
    ) -> Result<(), StoreError> {
        self.store.delete_stream(stream, expected).await
    }
    async fn tombstone_stream(
        &self,
        stream: &str,
        expected: ExpectedRevision,
    ) -> Result<(), StoreError> {
        self.store.tombstone_stream(stream, expected).await
    }
    async fn head_position(&self) -> Result<Option<Position>, StoreError> {
        self.store.head_position().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Snapshot;
    use crate::store::conformance;
    use crate::store::embedded::SqliteStore;

    /// The wrapper passes the whole conformance suite, so every call
    /// reaches the store unchanged, and times what it ran.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_metered_store_conforms_and_times_appends_and_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sqlite = SqliteStore::open(&dir.path().join("events.db")).expect("open");
        let metrics = Metrics::new();
        let store = Metered::new(Arc::new(sqlite), &metrics);
        conformance::run_all(&store).await;
        let text = metrics.render(&Snapshot::default()).expect("render");
        for operation in ["append", "read_stream", "read_all"] {
            let count = format!(
                "connectors_store_operation_duration_seconds_count{{operation=\"{operation}\"}} "
            );
            let line = text
                .lines()
                .find(|line| line.starts_with(&count))
                .unwrap_or_else(|| panic!("no {operation} count in:\n{text}"));
            let value: u64 = line[count.len()..].parse().expect("a count");
            assert!(value > 0, "{line}");
        }
    }
}
