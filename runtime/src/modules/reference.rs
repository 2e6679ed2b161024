use std::fmt;

use serde::{Deserialize, Serialize};

/// How a connector names a module: `name` follows the latest upload of that
/// name; `name@sha256:<64 hex digits>` pins one exact upload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModuleRef {
    name: String,
    digest: Option<String>,
}

/// Why a string is not a module reference or name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid module reference: use a name of 1 to 100 letters, digits, `-`, `_` or `.` (e.g. `redact`), optionally pinned as `redact@sha256:<64 hex digits>`")]
pub struct InvalidModuleRef(pub String);

/// Whether `name` is a valid module name.
pub fn valid_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl ModuleRef {
    pub fn parse(value: &str) -> Result<Self, InvalidModuleRef> {
        let invalid = || InvalidModuleRef(value.to_owned());
        let (name, digest) = match value.split_once('@') {
            None => (value, None),
            Some((name, pin)) => {
                let hex = pin.strip_prefix("sha256:").ok_or_else(invalid)?;
                let valid = hex.len() == 64
                    && hex
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
                if !valid {
                    return Err(invalid());
                }
                (name, Some(format!("sha256:{hex}")))
            }
        };
        if !valid_module_name(name) {
            return Err(invalid());
        }
        Ok(Self {
            name: name.to_owned(),
            digest,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pinned digest (`sha256:<hex>`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }
}

impl TryFrom<String> for ModuleRef {
    type Error = InvalidModuleRef;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ModuleRef> for String {
    fn from(r: ModuleRef) -> Self {
        r.to_string()
    }
}

impl fmt::Display for ModuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.digest {
            Some(d) => write!(f, "{}@{d}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_pins() {
        let latest = ModuleRef::parse("redact").expect("name");
        assert_eq!((latest.name(), latest.digest()), ("redact", None));
        let hex = "a".repeat(64);
        let pinned = ModuleRef::parse(&format!("redact@sha256:{hex}")).expect("pinned");
        assert_eq!(pinned.digest(), Some(format!("sha256:{hex}").as_str()));
        assert_eq!(pinned.to_string(), format!("redact@sha256:{hex}"));
        for bad in [
            "",
            "a b",
            "x@",
            "x@sha256:abc",
            &format!("x@md5:{hex}"),
            &format!("x@sha256:{}", "A".repeat(64)),
        ] {
            assert!(ModuleRef::parse(bad).is_err(), "{bad}");
        }
    }
}
