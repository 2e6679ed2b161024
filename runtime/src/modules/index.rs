//! The module index, `$modules`, folded: every name's versions, newest
//! first, and every digest ever indexed.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ModuleError;
use crate::store::{ExpectedRevision, RecordedEvent};
use crate::wasm::World;

/// The index stream: which names have which versions.
pub const INDEX_STREAM: &str = "$modules";
/// A version of a module, appended to [`INDEX_STREAM`] once its chunks are
/// stored.
pub const UPLOADED_EVENT: &str = "$ModuleUploaded";
/// Every version of a name forgotten, appended to [`INDEX_STREAM`].
pub const DELETED_EVENT: &str = "$ModuleDeleted";

/// One uploaded version of a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleVersion {
    pub name: String,
    /// `sha256:<lowercase hex>` of the bytes.
    pub digest: String,
    /// Bytes.
    pub size: u64,
    /// The worlds of `wit/` the component satisfies.
    pub worlds: Vec<World>,
    /// How many `$ModuleChunk` events hold the bytes.
    pub chunks: u64,
    /// When this version was (last) uploaded under this name.
    pub uploaded: DateTime<Utc>,
}

impl ModuleVersion {
    /// `name@sha256:<hex>`: a reference pinned to this version.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.name, self.digest)
    }

    pub fn has_world(&self, world: World) -> bool {
        self.worlds.contains(&world)
    }
}

/// The payload of `$ModuleUploaded`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct UploadedEvent {
    pub(super) name: String,
    pub(super) digest: String,
    pub(super) size: u64,
    pub(super) worlds: Vec<World>,
    pub(super) chunks: u64,
    /// RFC 3339.
    pub(super) uploaded: DateTime<Utc>,
}

/// The payload of `$ModuleDeleted`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct DeletedEvent {
    pub(super) name: String,
}

/// The index folded.
#[derive(Debug, Default)]
pub(super) struct Index {
    /// The revision of the last index event, if any.
    pub(super) revision: Option<u64>,
    /// Each name's versions, newest first, one per digest.
    pub(super) names: BTreeMap<String, Vec<ModuleVersion>>,
    /// Every digest ever indexed (under any name, deleted ones included).
    pub(super) contents: HashMap<String, ModuleVersion>,
}

impl Index {
    pub(super) fn expected(&self) -> ExpectedRevision {
        match self.revision {
            Some(r) => ExpectedRevision::Exact(r),
            None => ExpectedRevision::NoStream,
        }
    }

    pub(super) fn apply(&mut self, event: &RecordedEvent) {
        self.revision = Some(event.revision);
        match event.event_type.as_str() {
            UPLOADED_EVENT => match serde_json::from_slice::<UploadedEvent>(&event.data) {
                Ok(e) => {
                    let version = ModuleVersion {
                        name: e.name,
                        digest: e.digest,
                        size: e.size,
                        worlds: e.worlds,
                        chunks: e.chunks,
                        uploaded: e.uploaded,
                    };
                    self.contents
                        .insert(version.digest.clone(), version.clone());
                    let versions = self.names.entry(version.name.clone()).or_default();
                    versions.retain(|v| v.digest != version.digest);
                    versions.insert(0, version);
                }
                Err(e) => unreadable(event, &e),
            },
            DELETED_EVENT => match serde_json::from_slice::<DeletedEvent>(&event.data) {
                Ok(e) => {
                    self.names.remove(&e.name);
                }
                Err(e) => unreadable(event, &e),
            },
            other => {
                tracing::warn!(
                    stream = INDEX_STREAM,
                    revision = event.revision,
                    event_type = other,
                    "ignoring an unknown event in the module index"
                );
            }
        }
    }

    pub(super) fn versions(&self, name: &str) -> Result<&[ModuleVersion], ModuleError> {
        match self.names.get(name) {
            Some(versions) if !versions.is_empty() => Ok(versions),
            _ => Err(ModuleError::NotFound(name.to_owned())),
        }
    }
}

fn unreadable(event: &RecordedEvent, error: &serde_json::Error) {
    tracing::warn!(stream = INDEX_STREAM, revision = event.revision, error = %error, "ignoring an unreadable event in the module index");
}
