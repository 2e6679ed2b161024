//! Where a node's keys come from: `--secrets-key-file`, the environment
//! (`CONNECTORS_SECRETS_KEY`), or, for an embedded node given neither, a key
//! generated once in `<data>/secrets.key`.

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::keyring::{InvalidKey, Keyring, SecretKey};

/// The environment variable that may hold keys (one per line, or separated
/// by commas).
pub const KEYS_ENV: &str = "CONNECTORS_SECRETS_KEY";
/// The key file an embedded node generates in its data directory.
pub const GENERATED_KEY_FILE: &str = "secrets.key";

/// Where the keys are. With both, the key file's keys come first.
#[derive(Clone, Default)]
pub struct SecretsConfig {
    /// A file of keys, one per line; the first encrypts.
    pub key_file: Option<PathBuf>,
    /// Keys given directly (from `CONNECTORS_SECRETS_KEY`).
    pub keys: Option<String>,
}

impl fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsConfig")
            .field("key_file", &self.key_file)
            .field("keys", &self.keys.as_ref().map(|_| "******"))
            .finish()
    }
}

/// Why the keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot read the secrets key file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the secrets keys in {origin} cannot be used: {source}")]
    Invalid { origin: String, source: InvalidKey },
    #[error("{origin} holds no key; a key is the base64 of 32 random bytes, e.g. the output of `head -c 32 /dev/urandom | base64`")]
    Empty { origin: String },
    #[error("cannot create the secrets key file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The node's keyring. An embedded node (`sidecar` false) given no key
/// uses `<data_dir>/secrets.key`, generating it on first start; a sidecar
/// given no key gets an empty keyring (it refuses secrets).
pub fn open_keyring(
    config: &SecretsConfig,
    data_dir: &Path,
    sidecar: bool,
) -> Result<Keyring, SetupError> {
    let mut keys = Vec::new();
    if let Some(path) = &config.key_file {
        keys.extend(read_key_file(path)?);
    }
    if let Some(text) = &config.keys {
        let origin = format!("`{KEYS_ENV}`");
        let parsed = Keyring::parse_keys(&text.replace(',', "\n")).map_err(|source| {
            SetupError::Invalid {
                origin: origin.clone(),
                source,
            }
        })?;
        if parsed.is_empty() {
            return Err(SetupError::Empty { origin });
        }
        keys.extend(parsed);
    }
    if keys.is_empty() && !sidecar {
        keys = generated_key(&data_dir.join(GENERATED_KEY_FILE))?;
    }
    let keyring = Keyring::new(keys);
    if keyring.is_empty() {
        tracing::info!("no secrets key: connectors with secrets can't be created (give one with --secrets-key-file)");
    } else {
        tracing::info!(keys = ?keyring.key_ids(), "secrets keys loaded; the first encrypts");
    }
    Ok(keyring)
}

fn read_key_file(path: &Path) -> Result<Vec<SecretKey>, SetupError> {
    let text = std::fs::read_to_string(path).map_err(|source| SetupError::Read {
        path: path.to_owned(),
        source,
    })?;
    let origin = path.display().to_string();
    let keys = Keyring::parse_keys(&text).map_err(|source| SetupError::Invalid {
        origin: origin.clone(),
        source,
    })?;
    if keys.is_empty() {
        return Err(SetupError::Empty { origin });
    }
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(file = %path.display(), "the secrets key file can be read by other users; make it 0600");
        }
    }
    Ok(keys)
}

/// Reads the generated key file, creating it first when it is missing: the
/// key is written to a private temporary file, then linked into place, so
/// the file is whole or absent and an existing one is never overwritten.
fn generated_key(path: &Path) -> Result<Vec<SecretKey>, SetupError> {
    if path.exists() {
        return read_key_file(path);
    }
    let write_error = |source| SetupError::Write {
        path: path.to_owned(),
        source,
    };
    let (_, text) = SecretKey::generate();
    let temp = path.with_extension(format!("key.tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(write_error)?;
    let written = file
        .write_all(format!("{text}\n").as_bytes())
        .and_then(|()| file.sync_all());
    drop(file);
    let linked = written.and_then(|()| std::fs::hard_link(&temp, path));
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            tracing::info!(
                file = %path.display(),
                "generated a secrets key for this node's connectors; back it up: without it their secrets cannot be read"
            );
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(write_error(e)),
    }
    read_key_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_embedded_node_generates_a_private_key_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = open_keyring(&SecretsConfig::default(), dir.path(), false).expect("keyring");
        let file = dir.path().join(GENERATED_KEY_FILE);
        let mode = std::fs::metadata(&file)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = open_keyring(&SecretsConfig::default(), dir.path(), false).expect("keyring");
        assert_eq!(
            first.key_ids(),
            again.key_ids(),
            "the file is reused, never overwritten"
        );
        let files: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(files.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_sidecar_without_keys_has_an_empty_keyring() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ring = open_keyring(&SecretsConfig::default(), dir.path(), true).expect("keyring");
        assert!(ring.is_empty());
        assert!(!dir.path().join(GENERATED_KEY_FILE).exists());
    }

    #[test]
    fn key_file_keys_come_before_environment_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (file_key, file_text) = SecretKey::generate();
        let (env_key, env_text) = SecretKey::generate();
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("{file_text}\n")).expect("write");
        let config = SecretsConfig {
            key_file: Some(path),
            keys: Some(env_text),
        };
        let ring = open_keyring(&config, dir.path(), true).expect("keyring");
        assert_eq!(ring.key_ids(), vec![file_key.id(), env_key.id()]);
        let bad = SecretsConfig {
            keys: Some("short".into()),
            ..SecretsConfig::default()
        };
        let error = open_keyring(&bad, dir.path(), true).expect_err("invalid");
        assert!(error.to_string().contains(KEYS_ENV), "{error}");
        assert!(!format!("{config:?}").contains(&file_text));
    }
}
