use std::sync::Arc;

use bytes::Bytes;
use chrono::{SubsecRound, Utc};
use sha2::{Digest, Sha256};

use super::index::{
    DeletedEvent, Index, ModuleVersion, UploadedEvent, DELETED_EVENT, INDEX_STREAM, UPLOADED_EVENT,
};
use super::{chunk_stream, valid_module_name, ModuleError, ModuleRef, ModuleUsers, NoModuleUsers};
use crate::store::{Direction, EventStore, NewEvent, StoreError, StreamStart};
use crate::wasm::{WasmHost, World};

/// A piece of a module's bytes, in its chunk stream.
pub const CHUNK_EVENT: &str = "$ModuleChunk";
/// The largest chunk.
pub const CHUNK_BYTES: usize = 512 * 1024;
/// The most chunk bytes in one append, under KurrentDB's default 1 MiB
/// maximum append size with room for the events' own overhead.
pub const MAX_APPEND_BYTES: usize = 1024 * 1024 - 64 * 1024;
/// The default largest module.
pub const DEFAULT_MAX_MODULE_BYTES: usize = 64 * 1024 * 1024;

/// Events read per page of the index and of chunk streams.
const INDEX_PAGE: usize = 500;
/// How often a write that lost a race against another writer is retried.
pub(super) const ATTEMPTS: usize = 10;

/// A module with its latest version, as [`ModuleRegistry::list`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSummary {
    pub latest: ModuleVersion,
    /// How many distinct versions the name has.
    pub versions: usize,
}

impl ModuleSummary {
    pub fn name(&self) -> &str {
        &self.latest.name
    }
}

/// A module with every version, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleDetail {
    pub name: String,
    pub latest: ModuleVersion,
    /// Newest first; the first one is `latest`.
    pub versions: Vec<ModuleVersion>,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub version: ModuleVersion,
    /// `false` when these exact bytes already were the latest version of the
    /// name: nothing was written.
    pub created: bool,
    /// How long compiling took, in milliseconds; `None` when the content
    /// was known already and nothing was compiled.
    pub compile_ms: Option<u64>,
}

/// Uploads, lists, resolves and deletes modules; cheap to clone.
#[derive(Clone)]
pub struct ModuleRegistry {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) store: Arc<dyn EventStore>,
    host: WasmHost,
    pub(super) users: Arc<dyn ModuleUsers>,
    max_bytes: usize,
}

impl ModuleRegistry {
    /// A registry keeping modules in `store`, validating them with `host`,
    /// refusing modules larger than `max_bytes`; nothing uses its modules
    /// until [`ModuleRegistry::with_users`] says what does.
    pub fn new(store: Arc<dyn EventStore>, host: WasmHost, max_bytes: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                host,
                users: Arc::new(NoModuleUsers),
                max_bytes,
            }),
        }
    }

    /// The registry, with `users` telling what uses its modules (a module
    /// in use cannot be deleted).
    pub fn with_users(self, users: Arc<dyn ModuleUsers>) -> Self {
        let inner = &self.inner;
        Self {
            inner: Arc::new(Inner {
                store: Arc::clone(&inner.store),
                host: inner.host.clone(),
                users,
                max_bytes: inner.max_bytes,
            }),
        }
    }

    /// The largest module this registry accepts, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.inner.max_bytes
    }

    pub fn host(&self) -> &WasmHost {
        &self.inner.host
    }

    /// Validates `bytes` and stores them as the latest version of `name`.
    pub async fn upload(
        &self,
        name: &str,
        bytes: impl Into<Bytes>,
    ) -> Result<ModuleVersion, ModuleError> {
        Ok(self.put(name, bytes).await?.version)
    }

    /// Like [`upload`](Self::upload), telling whether anything was written:
    /// uploading the latest version of a name again changes nothing.
    ///
    /// Nothing is stored unless the name is valid, the size within the limit
    /// and the bytes a component of at least one world. The chunks are
    /// stored before the index event, so the index never names missing
    /// content.
    pub async fn put(&self, name: &str, bytes: impl Into<Bytes>) -> Result<Upload, ModuleError> {
        let bytes: Bytes = bytes.into();
        if !valid_module_name(name) {
            return Err(ModuleError::InvalidName(name.to_owned()));
        }
        if bytes.len() > self.inner.max_bytes {
            return Err(ModuleError::TooLarge {
                size: bytes.len(),
                max: self.inner.max_bytes,
            });
        }
        let digest = digest_of(&bytes);
        let index = self.index().await?;
        if let Some(latest) = index.names.get(name).and_then(|v| v.first()) {
            if latest.digest == digest {
                return Ok(Upload {
                    version: latest.clone(),
                    created: false,
                    compile_ms: None,
                });
            }
        }
        // Content indexed before (under any name) was validated and is
        // stored in full; anything else is compiled now.
        let (worlds, chunks, compile_ms) = match index.contents.get(&digest) {
            Some(known) => (known.worlds.clone(), known.chunks, None),
            None => {
                tracing::info!(module = %name, %digest, bytes = bytes.len(), "compiling the uploaded module");
                let started = std::time::Instant::now();
                let worlds = self.inspect(&digest, bytes.clone()).await?;
                let compile_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                let chunks = self.write_chunks(&digest, &bytes).await?;
                tracing::info!(module = %name, %digest, compile_ms, chunks, "uploaded module stored");
                (worlds, chunks, Some(compile_ms))
            }
        };
        let version = ModuleVersion {
            name: name.to_owned(),
            digest,
            size: bytes.len() as u64,
            worlds,
            chunks,
            uploaded: Utc::now().trunc_subsecs(3),
        };
        self.append_index(index, |index| {
            match index.names.get(name).and_then(|v| v.first()) {
                Some(latest) if latest.digest == version.digest => Err(latest.clone()),
                _ => Ok(NewEvent::json(
                    UPLOADED_EVENT,
                    &UploadedEvent {
                        name: version.name.clone(),
                        digest: version.digest.clone(),
                        size: version.size,
                        worlds: version.worlds.clone(),
                        chunks: version.chunks,
                        uploaded: version.uploaded,
                    },
                )),
            }
        })
        .await
        .map(|written| match written {
            None => Upload {
                version: version.clone(),
                created: true,
                compile_ms,
            },
            Some(latest) => Upload {
                version: latest,
                created: false,
                compile_ms,
            },
        })
    }

    /// Every module with its latest version, by name.
    pub async fn list(&self) -> Result<Vec<ModuleSummary>, ModuleError> {
        let index = self.index().await?;
        Ok(index
            .names
            .into_values()
            .filter_map(|versions| {
                let count = versions.len();
                versions.into_iter().next().map(|latest| ModuleSummary {
                    latest,
                    versions: count,
                })
            })
            .collect())
    }

    /// One module with all its versions.
    pub async fn get(&self, name: &str) -> Result<ModuleDetail, ModuleError> {
        check_name(name)?;
        let index = self.index().await?;
        let versions = index.versions(name)?.to_vec();
        Ok(ModuleDetail {
            name: name.to_owned(),
            latest: versions[0].clone(),
            versions,
        })
    }

    /// Forgets every version of `name`, unless a connector uses it.
    pub async fn delete(&self, name: &str) -> Result<(), ModuleError> {
        check_name(name)?;
        let mut index = self.index().await?;
        for _ in 0..ATTEMPTS {
            index.versions(name)?;
            let users = self.users(name).await?;
            if !users.is_empty() {
                return Err(ModuleError::InUse {
                    name: name.to_owned(),
                    connectors: users,
                });
            }
            let event = NewEvent::json(
                DELETED_EVENT,
                &DeletedEvent {
                    name: name.to_owned(),
                },
            );
            match self
                .inner
                .store
                .append(INDEX_STREAM, index.expected(), vec![event])
                .await
            {
                Ok(_) => return Ok(()),
                Err(StoreError::WrongExpectedRevision { .. }) => index = self.index().await?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ModuleError::Store(StoreError::Unavailable(format!(
            "the module index kept changing while deleting `{name}`; retry"
        ))))
    }

    /// The version a reference means: the latest upload of its name, or the
    /// pinned digest, which must have been uploaded under that name.
    pub async fn resolve(&self, reference: &ModuleRef) -> Result<ModuleVersion, ModuleError> {
        let index = self.index().await?;
        let versions = index.versions(reference.name())?;
        match reference.digest() {
            None => Ok(versions[0].clone()),
            Some(digest) => versions
                .iter()
                .find(|v| v.digest == digest)
                .cloned()
                .ok_or_else(|| ModuleError::VersionNotFound {
                    name: reference.name().to_owned(),
                    digest: digest.to_owned(),
                }),
        }
    }

    /// The bytes of the content with `digest`, checked against it.
    pub async fn bytes(&self, digest: &str) -> Result<Vec<u8>, ModuleError> {
        let stream = chunk_stream(digest);
        let chunks = self.read_chunks(&stream).await?;
        if chunks.is_empty() {
            return Err(ModuleError::ContentNotFound(digest.to_owned()));
        }
        let size = chunks.iter().map(|c| c.data.len()).sum();
        let mut bytes = Vec::with_capacity(size);
        for chunk in &chunks {
            if chunk.event_type != CHUNK_EVENT {
                return Err(ModuleError::Corrupt {
                    digest: digest.to_owned(),
                    message: format!(
                        "`{stream}` has a `{}` event at revision {}",
                        chunk.event_type, chunk.revision
                    ),
                });
            }
            bytes.extend_from_slice(&chunk.data);
        }
        let actual = digest_of(&bytes);
        if actual != digest {
            return Err(ModuleError::Corrupt {
                digest: digest.to_owned(),
                message: format!(
                    "its {} chunks ({} bytes) in `{stream}` hash to `{actual}` (an interrupted upload or damaged storage); upload the module again",
                    chunks.len(),
                    bytes.len()
                ),
            });
        }
        Ok(bytes)
    }

    /// Compiles and classifies `bytes` off the async threads; the host caches
    /// the compiled artifact.
    async fn inspect(&self, digest: &str, bytes: Bytes) -> Result<Vec<World>, ModuleError> {
        let host = self.inner.host.clone();
        let key = digest.to_owned();
        let info = tokio::task::spawn_blocking(move || host.inspect(&key, &bytes))
            .await
            .map_err(|e| ModuleError::Internal(e.to_string()))??;
        Ok(info.worlds)
    }

    /// The names of the users (connectors) of `name`.
    async fn users(&self, name: &str) -> Result<Vec<String>, ModuleError> {
        let mut users: Vec<String> = self
            .inner
            .users
            .module_users()
            .await?
            .into_iter()
            .filter(|user| user.stages.iter().any(|(_, m)| m.name() == name))
            .map(|user| user.name)
            .collect();
        users.sort();
        Ok(users)
    }

    /// Reads and folds the whole index.
    async fn index(&self) -> Result<Index, ModuleError> {
        let mut index = Index::default();
        let mut from = 0;
        loop {
            let page = match self
                .inner
                .store
                .read_stream(
                    INDEX_STREAM,
                    Direction::Forwards,
                    StreamStart::Revision(from),
                    INDEX_PAGE,
                )
                .await
            {
                Ok(page) => page,
                Err(StoreError::StreamNotFound(_)) => return Ok(index),
                Err(e) => return Err(e.into()),
            };
            for event in &page {
                index.apply(event);
            }
            match page.last() {
                Some(last) if page.len() == INDEX_PAGE => from = last.revision + 1,
                _ => return Ok(index),
            }
        }
    }

    /// Appends the event `decide` makes of the current index, with the
    /// index's revision as expected revision, re-reading and deciding again
    /// when another writer got there first. `decide` returns `Err(version)`
    /// when nothing needs writing; that version comes back as `Some`.
    async fn append_index(
        &self,
        mut index: Index,
        decide: impl Fn(&Index) -> Result<NewEvent, ModuleVersion>,
    ) -> Result<Option<ModuleVersion>, ModuleError> {
        for _ in 0..ATTEMPTS {
            let event = match decide(&index) {
                Ok(event) => event,
                Err(existing) => return Ok(Some(existing)),
            };
            match self
                .inner
                .store
                .append(INDEX_STREAM, index.expected(), vec![event])
                .await
            {
                Ok(_) => return Ok(None),
                Err(StoreError::WrongExpectedRevision { .. }) => index = self.index().await?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ModuleError::Store(StoreError::Unavailable(
            "the module index kept changing during the upload; retry".into(),
        )))
    }
}

fn check_name(name: &str) -> Result<(), ModuleError> {
    if valid_module_name(name) {
        Ok(())
    } else {
        Err(ModuleError::InvalidName(name.to_owned()))
    }
}

/// `sha256:<lowercase hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::store::embedded::SqliteStore;
    use crate::store::intercepted::{BeforeAppend, Intercepted};
    use crate::store::{ContentType, ExpectedRevision, NewEvent, RecordedEvent};
    use crate::wasm::WasmConfig;
    use uuid::Uuid;

    /// Records the stream, event count and size of every append.
    #[derive(Default)]
    struct Recording {
        appends: Mutex<Vec<(String, usize, usize)>>,
    }

    #[async_trait]
    impl BeforeAppend for Recording {
        async fn before_append(&self, stream: &str, events: &[NewEvent]) {
            let bytes = events.iter().map(|e| e.data.len() + e.metadata.len()).sum();
            self.appends
                .lock()
                .expect("appends")
                .push((stream.to_owned(), events.len(), bytes));
        }
    }

    #[tokio::test]
    async fn chunks_are_appended_within_the_append_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Intercepted {
            store: SqliteStore::open(&dir.path().join("events.db")).expect("store"),
            hook: Recording::default(),
        });
        let host = WasmHost::new(WasmConfig {
            cache_dir: dir.path().join("cache"),
            destinations: Default::default(),
        })
        .expect("host");
        let registry = ModuleRegistry::new(store.clone(), host, DEFAULT_MAX_MODULE_BYTES);
        let bytes: Vec<u8> = (0..5 * CHUNK_BYTES + 1000)
            .map(|i| (i % 253) as u8)
            .collect();
        let digest = digest_of(&bytes);
        let chunks = registry.write_chunks(&digest, &bytes).await.expect("write");
        assert_eq!(chunks, 6);
        let appends = store.hook.appends.lock().expect("appends").clone();
        assert!(!appends.is_empty());
        for (stream, events, size) in &appends {
            assert_eq!(stream, &chunk_stream(&digest));
            assert!(
                *events >= 1 && *size <= MAX_APPEND_BYTES + 1024,
                "{events} events, {size} bytes"
            );
        }
        assert_eq!(registry.bytes(&digest).await.expect("bytes"), bytes);
        // Stored already: nothing is written again.
        registry.write_chunks(&digest, &bytes).await.expect("again");
        assert_eq!(
            store.hook.appends.lock().expect("appends").len(),
            appends.len() + 1,
            "only the refused first append"
        );
        assert_eq!(registry.bytes(&digest).await.expect("bytes"), bytes);
    }

    #[test]
    fn digests_are_lowercase_sha256() {
        assert_eq!(
            digest_of(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn reupload_of_an_older_version_moves_it_first() {
        let mut index = Index::default();
        let event = |revision: u64, event_type: &str, data: serde_json::Value| RecordedEvent {
            id: Uuid::new_v4(),
            stream: INDEX_STREAM.into(),
            revision,
            position: crate::store::Position::new(revision, revision),
            event_type: event_type.into(),
            content_type: ContentType::Json,
            created: Utc::now(),
            data: serde_json::to_vec(&data).unwrap_or_default().into(),
            metadata: Default::default(),
        };
        let uploaded = |revision, digest: &str| {
            event(
                revision,
                UPLOADED_EVENT,
                serde_json::json!({"name": "m", "digest": digest, "size": 1, "worlds": ["transform"], "chunks": 1, "uploaded": "2024-01-01T00:00:00Z"}),
            )
        };
        for e in [
            uploaded(0, "sha256:a"),
            uploaded(1, "sha256:b"),
            uploaded(2, "sha256:a"),
        ] {
            index.apply(&e);
        }
        let digests: Vec<&str> = index.names["m"].iter().map(|v| v.digest.as_str()).collect();
        assert_eq!(digests, ["sha256:a", "sha256:b"]);
        index.apply(&event(3, DELETED_EVENT, serde_json::json!({"name": "m"})));
        assert!(index.versions("m").is_err());
        assert!(
            index.contents.contains_key("sha256:b"),
            "content stays known"
        );
        assert_eq!(index.expected(), ExpectedRevision::Exact(3));
    }
}
