//! Keys and sealing: XChaCha20-Poly1305 with a random 24-byte nonce per
//! value, bound by associated data to where the value lives.
//!
//! A sealed value is one string, `sealed:v1:<key id>:<base64url(nonce ||
//! ciphertext)>`. The key id is the first 4 bytes of the key's SHA-256, in
//! hex: it names the key without revealing it, so a keyring of several keys
//! (the first encrypts, the others only decrypt) finds the one to open a
//! value with, and keys can rotate.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What every sealed value starts with.
pub const SEALED_PREFIX: &str = "sealed:v1:";
/// Bytes of a key.
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "is a secret and this node has no secrets key to encrypt it; start the node with \
         `--secrets-key-file <PATH>` (or `CONNECTORS_SECRETS_KEY`) holding a key, or remove the secret"
    )]
    NoKeyToSeal,
    #[error(
        "is encrypted with key `{key_id}` and this node has no secrets key; start it with \
         `--secrets-key-file <PATH>` (or `CONNECTORS_SECRETS_KEY`) holding that key"
    )]
    NoKeyToOpen { key_id: String },
    #[error(
        "is encrypted with key `{key_id}`, which none of this node's keys ({known}) is; add that \
         key to `--secrets-key-file` (or `CONNECTORS_SECRETS_KEY`) after the current one"
    )]
    UnknownKey { key_id: String, known: String },
    #[error("is not a valid sealed value ({0})")]
    Malformed(&'static str),
    #[error("cannot be decrypted with key `{key_id}`: it was altered or belongs to another connector or field")]
    Tampered { key_id: String },
    #[error("could not be encrypted")]
    Encrypt,
}

/// A key that can't be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}; a key is the base64 of 32 random bytes, e.g. the output of `head -c 32 /dev/urandom | base64`")]
pub struct InvalidKey {
    pub line: usize,
    pub reason: String,
}

/// One 32-byte key. Its bytes never show in `Debug`.
#[derive(Clone)]
pub struct SecretKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl SecretKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; KEY_BYTES]) -> Self {
        let digest = Sha256::digest(bytes);
        Self {
            id: hex::encode(&digest[..4]),
            cipher: XChaCha20Poly1305::new(&Key::from(*bytes)),
        }
    }

    /// A new random key, and its text form (base64).
    pub fn generate() -> (Self, String) {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        (Self::from_bytes(&bytes), STANDARD.encode(bytes))
    }

    /// The key's id: the first 4 bytes of its SHA-256, in hex.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The keys of a node: the first seals, every one opens. May be empty (a
/// sidecar without keys): then nothing can be sealed or opened.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<SecretKey>,
}

impl Keyring {
    /// A keyring of `keys`; the first one encrypts.
    pub fn new(keys: Vec<SecretKey>) -> Self {
        Self { keys }
    }

    /// Parses keys, one per line (base64 of 32 bytes); blank lines and lines
    /// starting with `#` are skipped.
    pub fn parse_keys(text: &str) -> Result<Vec<SecretKey>, InvalidKey> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let invalid = |reason: &str| InvalidKey {
                line: i + 1,
                reason: reason.into(),
            };
            let bytes = STANDARD.decode(line).map_err(|_| invalid("not base64"))?;
            let bytes: [u8; KEY_BYTES] = bytes
                .try_into()
                .map_err(|b: Vec<u8>| invalid(&format!("{} bytes instead of 32", b.len())))?;
            keys.push(SecretKey::from_bytes(&bytes));
        }
        Ok(keys)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The ids of the keys, the encrypting one first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(SecretKey::id).collect()
    }

    /// Encrypts `plaintext` with the first key, bound to `context` (where
    /// the value lives: it can only be opened with the same context).
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, SecretsError> {
        let key = self.keys.first().ok_or(SecretsError::NoKeyToSeal)?;
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Encrypt)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        Ok(format!(
            "{SEALED_PREFIX}{}:{}",
            key.id,
            URL_SAFE_NO_PAD.encode(blob)
        ))
    }

    /// Decrypts a value [`Keyring::seal`] made with the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, SecretsError> {
        let rest = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SecretsError::Malformed("no `sealed:v1:` prefix"))?;
        let (key_id, data) = rest
            .split_once(':')
            .ok_or(SecretsError::Malformed("no key id"))?;
        let key = self.keys.iter().find(|k| k.id == key_id).ok_or_else(|| {
            if self.keys.is_empty() {
                SecretsError::NoKeyToOpen {
                    key_id: key_id.into(),
                }
            } else {
                SecretsError::UnknownKey {
                    key_id: key_id.into(),
                    known: self
                        .key_ids()
                        .iter()
                        .map(|id| format!("`{id}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            }
        })?;
        let blob = URL_SAFE_NO_PAD
            .decode(data)
            .map_err(|_| SecretsError::Malformed("not base64"))?;
        if blob.len() < NONCE_BYTES {
            return Err(SecretsError::Malformed("too short"));
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce
            .try_into()
            .map_err(|_| SecretsError::Malformed("too short"))?;
        let plaintext = key
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Tampered {
                key_id: key.id.clone(),
            })?;
        String::from_utf8(plaintext).map_err(|_| SecretsError::Malformed("not UTF-8"))
    }
}

/// Whether `value` is a sealed value (or pretends to be one).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes(&[byte; KEY_BYTES])
    }

    #[test]
    fn sealed_values_open_with_the_same_key_and_context_only() {
        let ring = Keyring::new(vec![key(1)]);
        let sealed = ring
            .seal("SUPERSECRET", "c\0sink.auth.token")
            .expect("seal");
        assert!(
            is_sealed(&sealed) && !sealed.contains("SUPERSECRET"),
            "{sealed}"
        );
        assert_ne!(
            sealed,
            ring.seal("SUPERSECRET", "c\0sink.auth.token")
                .expect("seal"),
            "random nonces"
        );
        assert_eq!(
            ring.open(&sealed, "c\0sink.auth.token").expect("open"),
            "SUPERSECRET"
        );

        let moved = ring
            .open(&sealed, "other\0sink.auth.token")
            .expect_err("other connector");
        assert!(matches!(moved, SecretsError::Tampered { .. }), "{moved:?}");
        let field = ring
            .open(&sealed, "c\0sink.headers.x-api-key")
            .expect_err("other field");
        assert!(matches!(field, SecretsError::Tampered { .. }), "{field:?}");

        let mut altered = sealed.clone();
        let last = altered.pop().expect("char");
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(ring.open(&altered, "c\0sink.auth.token").is_err());
    }

    #[test]
    fn a_wrong_or_missing_key_is_named() {
        let sealed = Keyring::new(vec![key(1)]).seal("s", "ctx").expect("seal");
        let id = key(1).id().to_owned();
        match Keyring::new(vec![key(2)]).open(&sealed, "ctx") {
            Err(SecretsError::UnknownKey { key_id, known }) => {
                assert_eq!(key_id, id);
                assert!(known.contains(key(2).id()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Keyring::default().open(&sealed, "ctx"),
            Err(SecretsError::NoKeyToOpen { key_id: id })
        );
        assert_eq!(
            Keyring::default().seal("s", "ctx"),
            Err(SecretsError::NoKeyToSeal)
        );
    }

    #[test]
    fn rotation_seals_with_the_first_key_and_opens_with_any() {
        let old = Keyring::new(vec![key(1)]);
        let sealed_old = old.seal("s", "ctx").expect("seal");
        let rotated = Keyring::new(vec![key(2), key(1)]);
        assert_eq!(
            rotated.open(&sealed_old, "ctx").expect("old value opens"),
            "s"
        );
        let sealed_new = rotated.seal("s", "ctx").expect("seal");
        assert!(sealed_new.contains(key(2).id()));
        assert!(old.open(&sealed_new, "ctx").is_err());
    }

    #[test]
    fn keys_parse_from_lines_and_never_show() {
        let (_, text) = SecretKey::generate();
        let keys = Keyring::parse_keys(&format!(
            "# current\n{text}\n\n{}\n",
            STANDARD.encode([7u8; 32])
        ))
        .expect("keys");
        assert_eq!(keys.len(), 2);
        let shown = format!("{:?}", Keyring::new(keys));
        assert!(
            !shown.contains(&text) && shown.contains("SecretKey"),
            "{shown}"
        );
        let short = Keyring::parse_keys("AAAA").expect_err("short");
        assert_eq!(short.line, 1);
        assert!(
            short.to_string().contains("3 bytes instead of 32"),
            "{short}"
        );
        assert!(Keyring::parse_keys("not base64!").is_err());
    }
}
