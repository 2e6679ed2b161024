//! Deserialization helpers for settings whose errors must keep their path.
//!
//! The API reports a bad setting at its full path (`sink.batch.maxEvents`),
//! which `serde_path_to_error` tracks as long as every value is read from
//! the request's own deserializer. Serde's internally tagged enums
//! (`#[serde(tag = "type")]`) buffer the object first and read the variant
//! from the buffer, so an error inside it is only known to be "somewhere in
//! `sink`". [`deserialize_tagged`] reads the tag first and the variant's
//! fields from the same map instead (the API puts `type` first in every
//! object, see `api::json`), so each error keeps its path; an object whose
//! tag comes later (another source) is buffered and still parsed correctly.
//!
//! [`KeySeed`] reads one key of a hand-written map visitor and refuses
//! an unknown one *as a key*, so the error names the key's path too.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// An enum written as an object tagged by one field, e.g.
/// `{"type": "http", "url": "..."}`.
pub trait Tagged: Sized {
    /// The tag's field, e.g. `type`.
    const TAG: &'static str;
    /// The tag's values, as users write them.
    const VARIANTS: &'static [&'static str];
    /// A valid example, shown when the tag is missing.
    const EXAMPLE: &'static str;

    /// Reads the variant named `variant` (one of [`Self::VARIANTS`]) from the
    /// object's other fields.
    fn variant<'de, D: Deserializer<'de>>(variant: &str, fields: D) -> Result<Self, D::Error>;
}

/// Deserializes a [`Tagged`] enum so that errors keep their path.
pub fn deserialize_tagged<'de, T: Tagged, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    deserializer.deserialize_map(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object such as `{}`", T::EXAMPLE)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Err(missing_tag::<T, A::Error>());
        };
        if first == T::TAG {
            let variant = map.next_value_seed(VariantSeed(T::VARIANTS))?;
            return T::variant(&variant, MapAccessDeserializer::new(map));
        }
        // The tag comes later: buffer the object, then read the variant from
        // the buffer (errors then name the object, not the field).
        let mut fields = serde_json::Map::new();
        fields.insert(first, map.next_value()?);
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value()?;
            fields.insert(key, value);
        }
        let variant = match fields.remove(T::TAG) {
            Some(serde_json::Value::String(v)) if T::VARIANTS.contains(&v.as_str()) => v,
            Some(serde_json::Value::String(v)) => {
                return Err(de::Error::unknown_variant(&v, T::VARIANTS))
            }
            Some(_) => return Err(de::Error::custom(format!("`{}` must be a string", T::TAG))),
            None => return Err(missing_tag::<T, A::Error>()),
        };
        T::variant(
            &variant,
            serde_json::Value::Object(fields).into_deserializer(),
        )
        .map_err(de::Error::custom)
    }
}

fn missing_tag<T: Tagged, E: de::Error>() -> E {
    E::custom(format!(
        "missing field `{}`: one of {}, e.g. `{}`",
        T::TAG,
        list(T::VARIANTS),
        T::EXAMPLE
    ))
}

/// `` `a`, `b`, `c` ``.
pub fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a tag's value and refuses one that is not a variant.
struct VariantSeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for VariantSeed {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        let value = String::deserialize(deserializer)?;
        if self.0.contains(&value.as_str()) {
            Ok(value)
        } else {
            Err(de::Error::unknown_variant(&value, self.0))
        }
    }
}

/// Reads a map key that must be one of `fields`; an unknown key is refused
/// while it is read, so the error's path ends with it.
pub struct KeySeed(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<&'static str, D::Error> {
        let key = String::deserialize(deserializer)?;
        self.0
            .iter()
            .find(|field| **field == key)
            .copied()
            .ok_or_else(|| de::Error::unknown_field(&key, self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        size: u32,
    }

    #[derive(Debug, PartialEq)]
    enum Shape {
        Square(Inner),
        Dot,
    }

    impl Tagged for Shape {
        const TAG: &'static str = "type";
        const VARIANTS: &'static [&'static str] = &["square", "dot"];
        const EXAMPLE: &'static str = r#"{"type": "dot"}"#;

        fn variant<'de, D: Deserializer<'de>>(variant: &str, fields: D) -> Result<Self, D::Error> {
            match variant {
                "square" => Inner::deserialize(fields).map(Shape::Square),
                _ => {
                    #[derive(Deserialize)]
                    #[serde(deny_unknown_fields)]
                    struct Nothing {}
                    Nothing::deserialize(fields).map(|_| Shape::Dot)
                }
            }
        }
    }

    #[derive(Debug, Deserialize)]
    struct Holder {
        #[serde(deserialize_with = "deserialize_tagged")]
        shape: Shape,
    }

    fn error_of(json: &str) -> (String, String) {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let error =
            serde_path_to_error::deserialize::<_, Holder>(&mut deserializer).expect_err("an error");
        (error.path().to_string(), error.into_inner().to_string())
    }

    #[test]
    fn tag_first_keeps_the_path_of_every_error() {
        let (path, message) = error_of(r#"{"shape": {"type": "square", "size": "big"}}"#);
        assert_eq!(path, "shape.size");
        assert!(message.starts_with("invalid type: string"), "{message}");

        let (path, message) = error_of(r#"{"shape": {"type": "square", "sise": 1}}"#);
        assert_eq!(path, "shape.sise");
        assert!(message.contains("expected `size`"), "{message}");

        let (path, message) = error_of(r#"{"shape": {"type": "circle"}}"#);
        assert_eq!(path, "shape.type");
        assert!(message.contains("expected `square` or `dot`"), "{message}");
    }

    #[test]
    fn a_late_or_missing_tag_still_parses_or_explains() {
        let shape: Holder =
            serde_json::from_str(r#"{"shape": {"size": 2, "type": "square"}}"#).expect("parses");
        assert_eq!(shape.shape, Shape::Square(Inner { size: 2 }));

        let (path, message) = error_of(r#"{"shape": {"size": 2}}"#);
        assert_eq!(path, "shape");
        assert!(
            message.contains("missing field `type`: one of `square`, `dot`, e.g."),
            "{message}"
        );
    }

    #[test]
    fn key_seed_refuses_unknown_keys_at_their_path() {
        let mut deserializer = serde_json::Deserializer::from_str(r#"{"b": 1}"#);
        struct Only;
        impl<'de> Deserialize<'de> for Only {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Only;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a map")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Only, A::Error> {
                        while map.next_key_seed(KeySeed(&["a"]))?.is_some() {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                        Ok(Only)
                    }
                }
                d.deserialize_map(V)
            }
        }
        let error = serde_path_to_error::deserialize::<_, Only>(&mut deserializer)
            .err()
            .expect("an error");
        assert_eq!(error.path().to_string(), "b");
    }
}
