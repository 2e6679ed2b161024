//! Compiled components on disk, keyed by the engine's compatibility hash and
//! the module's digest. Only files this host wrote are ever loaded: the
//! directory is the node's own, files are written whole (temp file, then
//! rename) and named by digest.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::Engine;

/// A directory of precompiled components for one engine configuration.
#[derive(Debug, Clone)]
pub(super) struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    /// `<root>/<engine hash>/`: artifacts of another wasmtime version or
    /// configuration land elsewhere and are never loaded.
    pub fn new(root: &Path, engine: &Engine) -> std::io::Result<Self> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let dir = root.join(format!("{:016x}", hasher.finish()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    fn path(&self, digest: &str) -> PathBuf {
        // `sha256:<hex>` -> `sha256-<hex>.cwasm`
        self.dir.join(format!("{}.cwasm", digest.replace(':', "-")))
    }

    /// The cached component, if this host compiled it before.
    pub fn load(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(digest);
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was produced by `Component::serialize` of an engine
        // with the same compatibility hash (the directory name), written by
        // this host into its own data directory, and renamed into place only
        // once complete.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable compiled component");
                None
            }
        }
    }

    /// Saves a compiled component; failures only cost a recompilation later.
    pub fn store(&self, digest: &str, component: &Component) {
        let path = self.path(digest);
        let result = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|bytes| {
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, &path)
            });
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "could not cache a compiled component");
        }
    }
}
