//! The conformance suite against the embedded SQLite store (one fresh store
//! per check), plus embedded-only checks.

use std::path::Path;

use connectors::store::{conformance, embedded::SqliteStore, EventStore};
use tempfile::TempDir;

fn fresh_store() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let store = open(&dir.path().join("events.db"));
    (dir, store)
}

fn open(path: &Path) -> SqliteStore {
    match SqliteStore::open(path) {
        Ok(store) => store,
        Err(e) => panic!("open {}: {e}", path.display()),
    }
}

/// A fresh embedded store per check.
struct Embedded {
    _dir: TempDir,
    store: SqliteStore,
}

#[async_trait::async_trait]
impl conformance::Fixture for Embedded {
    async fn start() -> Self {
        let (dir, store) = fresh_store();
        Embedded { _dir: dir, store }
    }

    fn store(&self) -> &dyn EventStore {
        &self.store
    }
}

connectors::conformance_tests!(Embedded);

/// All checks against one store, concurrently: the checks must not disturb
/// each other, as on a shared server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_checks_share_one_store() {
    let (_dir, store) = fresh_store();
    conformance::run_all_concurrently(&store, 3).await;
}

/// Embedded-only behaviour: persistence, big batches, `$maxAge`, positions.
mod embedded {
    use std::time::{Duration, Instant};

    use connectors::store::{
        AllStart, Direction, EventStore, ExpectedRevision, NewEvent, Position, StoreError,
        StreamMetadata, StreamStart, SubscribeFrom, SubscriptionFilter, SubscriptionMessage,
    };

    use super::{fresh_store, open};

    fn events(n: usize) -> Vec<NewEvent> {
        (0..n)
            .map(|i| NewEvent::json("Numbered", &serde_json::json!({ "i": i })))
            .collect()
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let (dir, store) = fresh_store();
        let path = dir.path().join("events.db");
        let written = events(5);
        store
            .append("persisted", ExpectedRevision::NoStream, written.clone())
            .await
            .expect("append");
        let metadata = StreamMetadata {
            max_count: Some(10),
            ..StreamMetadata::default()
        };
        store
            .set_stream_metadata("persisted", metadata.clone())
            .await
            .expect("set metadata");
        let head = store.head_position().await.expect("head");
        drop(store);

        let store = open(&path);
        assert_eq!(
            store.head_position().await.expect("head"),
            head,
            "head kept"
        );
        let read = store
            .read_stream("persisted", Direction::Forwards, StreamStart::Start, 100)
            .await
            .expect("read after reopening");
        let ids: Vec<_> = read.iter().map(|e| e.id).collect();
        let expected: Vec<_> = written.iter().map(|e| e.id).collect();
        assert_eq!(ids, expected, "events kept");
        assert_eq!(
            store.stream_metadata("persisted").await.expect("metadata"),
            Some(metadata),
            "metadata kept"
        );
        let r = store
            .append("persisted", ExpectedRevision::Exact(4), events(1))
            .await
            .expect("append after reopening");
        assert_eq!(r.next_expected_revision, 5, "revisions continue");
        assert!(Some(r.position) > head, "positions continue");
    }

    #[tokio::test]
    async fn positions_of_deleted_events_are_not_reused() {
        let (dir, store) = fresh_store();
        let r = store
            .append("doomed", ExpectedRevision::NoStream, events(3))
            .await
            .expect("append");
        store
            .delete_stream("doomed", ExpectedRevision::Any)
            .await
            .expect("delete");
        drop(store);
        let store = open(&dir.path().join("events.db"));
        assert_eq!(store.head_position().await.expect("head"), Some(r.position));
        let next = store
            .append("other", ExpectedRevision::Any, events(1))
            .await
            .expect("append");
        assert!(
            next.position > r.position,
            "{} after {}",
            next.position,
            r.position
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_batch_in_one_append() {
        let (_dir, store) = fresh_store();
        let started = Instant::now();
        let r = store
            .append("big", ExpectedRevision::NoStream, events(10_000))
            .await
            .expect("append 10,000 events");
        let took = started.elapsed();
        assert_eq!(r.next_expected_revision, 9_999);
        let read = store
            .read_stream("big", Direction::Forwards, StreamStart::Start, 20_000)
            .await
            .expect("read");
        assert_eq!(read.len(), 10_000);
        assert!(read.iter().enumerate().all(|(i, e)| e.revision == i as u64));
        let all = store
            .read_all(Direction::Forwards, AllStart::Start, 20_000)
            .await
            .expect("read $all");
        assert_eq!(all.len(), 10_000);
        tracing::info!(?took, "appended 10,000 events");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appends_get_distinct_positions() {
        let (_dir, store) = fresh_store();
        let mut tasks = Vec::new();
        for writer in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let stream = format!("writer-{writer}");
                let mut positions = Vec::new();
                let mut expected = ExpectedRevision::NoStream;
                for _ in 0..25 {
                    let r = store
                        .append(&stream, expected, events(2))
                        .await
                        .expect("append");
                    expected = ExpectedRevision::Exact(r.next_expected_revision);
                    positions.push(r.position);
                }
                positions
            }));
        }
        let mut all: Vec<Position> = Vec::new();
        for task in tasks {
            all.extend(task.await.expect("writer task"));
        }
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count, "every append got its own position");
        let head = store.head_position().await.expect("head");
        assert_eq!(head, Some(Position::new(800, 800)), "16 x 25 x 2 events");
    }

    #[tokio::test]
    async fn max_age_hides_old_events() {
        let (_dir, store) = fresh_store();
        store
            .append("aging", ExpectedRevision::NoStream, events(2))
            .await
            .expect("append");
        let metadata = StreamMetadata {
            max_age: Some(1),
            ..StreamMetadata::default()
        };
        store
            .set_stream_metadata("aging", metadata)
            .await
            .expect("set metadata");
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        store
            .append("aging", ExpectedRevision::Exact(1), events(1))
            .await
            .expect("append");
        let read = store
            .read_stream("aging", Direction::Forwards, StreamStart::Start, 10)
            .await
            .expect("read");
        let revisions: Vec<_> = read.iter().map(|e| e.revision).collect();
        assert_eq!(revisions, vec![2], "only the recent event");
    }

    #[tokio::test]
    async fn metadata_streams_and_empty_names_are_refused() {
        let (_dir, store) = fresh_store();
        let result = store
            .set_stream_metadata("$$x", StreamMetadata::default())
            .await;
        assert!(
            matches!(result, Err(StoreError::InvalidRequest(_))),
            "{result:?}"
        );
        let result = store.delete_stream("", ExpectedRevision::Any).await;
        assert!(
            matches!(result, Err(StoreError::InvalidRequest(_))),
            "{result:?}"
        );
    }

    /// A subscription that catches up over many pages with a sparse filter
    /// reports checkpoints and delivers the few matches in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn catch_up_over_many_pages() {
        let (_dir, store) = fresh_store();
        store
            .append("noise", ExpectedRevision::Any, events(2_000))
            .await
            .expect("append noise");
        store
            .append("signal", ExpectedRevision::Any, events(1))
            .await
            .expect("append signal");
        store
            .append("noise", ExpectedRevision::Any, events(1_000))
            .await
            .expect("append noise");
        let filter = SubscriptionFilter {
            stream: Some(connectors::store::Matcher::Prefixes(vec!["signal".into()])),
            checkpoint_interval: 200,
            ..SubscriptionFilter::default()
        };
        let mut sub = store
            .subscribe_all(SubscribeFrom::Start, filter)
            .await
            .expect("subscribe");
        let mut checkpoints = Vec::new();
        let mut signals = 0;
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), sub.next())
                .await
                .expect("a message in time")
                .expect("the subscription goes on")
                .expect("no error");
            match message {
                SubscriptionMessage::Event(e) => {
                    assert_eq!(e.stream, "signal");
                    signals += 1;
                }
                SubscriptionMessage::Checkpoint(p) => checkpoints.push(p.commit),
                SubscriptionMessage::CaughtUp => break,
            }
        }
        assert_eq!(signals, 1);
        assert!(
            checkpoints.windows(2).all(|w| w[0] < w[1]),
            "{checkpoints:?}"
        );
        assert_eq!(checkpoints.last(), Some(&3_001), "{checkpoints:?}");
        assert!(
            checkpoints.contains(&200),
            "interval checkpoints: {checkpoints:?}"
        );
    }
}
