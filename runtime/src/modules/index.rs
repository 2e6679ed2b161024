//! The module index, `$modules`, folded: every name's versions, newest
//! first, and every digest ever indexed.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::registry::{ModuleVersion, DELETED_EVENT, INDEX_STREAM, UPLOADED_EVENT};
use super::ModuleError;
use crate::store::{ExpectedRevision, RecordedEvent};
use crate::wasm::World;

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
