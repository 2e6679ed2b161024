//! Compiled components on disk, keyed by the engine's compatibility hash and
//! the module's digest. Only files this host wrote are ever loaded: the
//! directory is the node's own, a digest read from the store must be
//! `sha256:` and 64 lowercase hex digits before any path is built from it,
//! and files are written whole (a temp file unique to each compile, then an
//! atomic rename), so two compiles of one module never mix their bytes.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::Engine;

/// A digest that cannot name a cached file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a module digest; a digest is `sha256:` and 64 lowercase hex digits")]
pub struct InvalidDigest(pub String);

/// The file name of the artifact for `digest` (`sha256-<hex>.cwasm`), once
/// `digest` is known to be `sha256:` and 64 lowercase hex digits.
pub fn artifact_name(digest: &str) -> Result<String, InvalidDigest> {
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .ok_or_else(|| InvalidDigest(digest.chars().take(80).collect()))?;
    Ok(format!("sha256-{hex}.cwasm"))
}

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

    fn path(&self, digest: &str) -> Result<PathBuf, InvalidDigest> {
        Ok(self.dir.join(artifact_name(digest)?))
    }

    /// The cached component, if this host compiled it before.
    pub fn load(&self, engine: &Engine, digest: &str) -> Result<Option<Component>, InvalidDigest> {
        let path = self.path(digest)?;
        if !path.exists() {
            return Ok(None);
        }
        // SAFETY: the file was produced by `Component::serialize` of an engine
        // with the same compatibility hash (the directory name), written by
        // this host into its own data directory under a name built from a
        // checked digest, and renamed into place only once complete.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(component) => Ok(Some(component)),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable compiled component");
                Ok(None)
            }
        }
    }

    /// Saves a compiled component; failures only cost a recompilation later.
    pub fn store(&self, digest: &str, component: &Component) -> Result<(), InvalidDigest> {
        let path = self.path(digest)?;
        let result = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|bytes| {
                let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
                file.write_all(&bytes)?;
                file.as_file().sync_all()?;
                file.persist(&path).map_err(|e| e.error)?;
                Ok(())
            });
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "could not cache a compiled component");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn only_sha256_hex_digests_name_a_file() {
        assert_eq!(
            artifact_name(DIGEST).expect("valid"),
            "sha256-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.cwasm"
        );
        for bad in [
            "sha256:../../../../etc/passwd",
            "sha256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
            "sha256:9f86d081",
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08/",
            "sha512:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "",
        ] {
            assert!(artifact_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_digest_never_reaches_the_file_system() {
        let dir = tempfile::tempdir().expect("dir");
        let engine = Engine::default();
        let cache = ArtifactCache::new(dir.path(), &engine).expect("cache");
        let error = cache
            .load(&engine, "sha256:../../escape")
            .expect_err("refused");
        assert!(
            error.to_string().contains("64 lowercase hex digits"),
            "{error}"
        );
    }

    #[test]
    fn concurrent_compiles_of_one_module_leave_one_whole_artifact() {
        let dir = tempfile::tempdir().expect("dir");
        let engine = Engine::default();
        let cache = ArtifactCache::new(dir.path(), &engine).expect("cache");
        // The smallest component: the header and the component layer.
        let empty = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        let component = Component::new(&engine, empty).expect("component");
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| cache.store(DIGEST, &component).expect("valid digest"));
            }
        });
        let names: Vec<String> = std::fs::read_dir(&cache.dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [artifact_name(DIGEST).expect("valid")],
            "no temp file is left"
        );
        assert!(cache.load(&engine, DIGEST).expect("valid").is_some());
    }
}
