//! The value of an extra header of the HTTP sink: plain text, or a secret
//! (marked `{"secret": "..."}`, or named like a credential).

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::secrets::is_sealed;
use crate::sinks::REDACTED;
use crate::strict_de::KeySeed;

/// Whether the value of header `name` is treated as a secret by its name.
pub fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie"
    ) || ["token", "secret", "key", "password", "auth", "signature"]
        .iter()
        .any(|word| name.contains(word))
}

/// The value of an extra header: `"text"`, or `{"secret": "text"}` for a
/// value that is a secret whatever the header's name.
#[derive(Clone, PartialEq, Eq)]
pub enum HeaderSetting {
    Plain(String),
    Secret(String),
}

impl HeaderSetting {
    pub fn value(&self) -> &str {
        match self {
            HeaderSetting::Plain(v) | HeaderSetting::Secret(v) => v,
        }
    }

    pub(super) fn value_mut(&mut self) -> &mut String {
        match self {
            HeaderSetting::Plain(v) | HeaderSetting::Secret(v) => v,
        }
    }

    /// Whether the value is a secret: marked so, named like a credential,
    /// or stored sealed.
    pub fn is_secret(&self, name: &str) -> bool {
        matches!(self, HeaderSetting::Secret(_))
            || is_sensitive_header(name)
            || is_sealed(self.value())
    }
}

impl From<&str> for HeaderSetting {
    fn from(value: &str) -> Self {
        HeaderSetting::Plain(value.into())
    }
}

/// Never shows a secret value.
impl fmt::Debug for HeaderSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderSetting::Plain(v) => write!(f, "{v:?}"),
            HeaderSetting::Secret(_) => write!(f, "{{secret: {REDACTED:?}}}"),
        }
    }
}

impl Serialize for HeaderSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            HeaderSetting::Plain(v) => serializer.serialize_str(v),
            HeaderSetting::Secret(v) => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("secret", v)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for HeaderSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SettingVisitor;
        impl<'de> Visitor<'de> for SettingVisitor {
            type Value = HeaderSetting;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a header value such as `\"orders\"`, or `{\"secret\": \"...\"}` for a secret one")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HeaderSetting, E> {
                Ok(HeaderSetting::Plain(v.into()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeaderSetting, A::Error> {
                let mut secret = None;
                // An unknown key is refused as it is read, so the error
                // names it (`sink.headers.x-api-key.secrt`).
                while map.next_key_seed(KeySeed(&["secret"]))?.is_some() {
                    if secret.is_some() {
                        return Err(de::Error::duplicate_field("secret"));
                    }
                    secret = Some(map.next_value::<String>()?);
                }
                secret
                    .map(HeaderSetting::Secret)
                    .ok_or_else(|| de::Error::missing_field("secret"))
            }
        }
        deserializer.deserialize_any(SettingVisitor)
    }
}
