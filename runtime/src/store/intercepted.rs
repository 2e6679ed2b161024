//! For tests: a real embedded store whose appends first pass through a
//! hook (to record them, or to hold them back), everything else untouched.

use async_trait::async_trait;

use super::embedded::SqliteStore;
use super::{
    AllStart, AppendResult, Direction, EventStore, ExpectedRevision, NewEvent, Position,
    RecordedEvent, StoreError, StreamMetadata, StreamStart, SubscribeFrom, Subscription,
    SubscriptionFilter,
};

/// What runs before each append reaches the store.
#[async_trait]
pub(crate) trait BeforeAppend: Send + Sync + 'static {
    async fn before_append(&self, stream: &str, events: &[NewEvent]);
}

/// An embedded store whose appends go through `hook` first.
pub(crate) struct Intercepted<H> {
    pub store: SqliteStore,
    pub hook: H,
}

#[async_trait]
impl<H: BeforeAppend> EventStore for Intercepted<H> {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.hook.before_append(stream, &events).await;
        self.store.append(stream, expected, events).await
    }
    async fn read_stream(
        &self,
        stream: &str,
        direction: Direction,
        from: StreamStart,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.store.read_stream(stream, direction, from, max).await
    }
    async fn read_all(
        &self,
        direction: Direction,
        from: AllStart,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.store.read_all(direction, from, max).await
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
