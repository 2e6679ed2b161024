//! The redaction itself, apart from the component's glue: plain Rust over
//! `serde_json`, so it can be tested and measured natively too.
//!
//! It builds no tree of the whole document. The input is checked once as
//! JSON; then only the objects and arrays on the way to a field to remove
//! are taken apart (into their members, each kept as the text it was
//! written as, a [`RawValue`]), and everything else is copied through as
//! written. Field order is kept without an ordered map, and the cost is one
//! pass over the input plus the parts a path goes into.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// What to remove from each event's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// Top-level fields to keep, when set.
    pub keep: Option<Vec<String>>,
    /// Dotted paths to remove, each split at its dots.
    pub remove: Vec<Vec<String>>,
}

/// The data was not JSON.
#[derive(Debug)]
pub struct NotJson;

impl Redaction {
    /// Reads `{"remove": [...], "keep": [...]}` (one or both).
    pub fn from_config(config: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(config).map_err(|e| format!("config is not valid JSON: {e}"))?;
        if !value.is_object() {
            return Err("config must be a JSON object".into());
        }
        let keep = string_list(&value, "keep")?;
        let remove = string_list(&value, "remove")?;
        if keep.is_none() && remove.is_none() {
            return Err("config needs `remove` (dotted paths) or `keep` (top-level fields)".into());
        }
        let remove = remove
            .unwrap_or_default()
            .into_iter()
            .map(|path| {
                let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
                if parts.iter().any(String::is_empty) {
                    Err(format!(
                        "config `remove`: `{path}` is not a valid dotted path"
                    ))
                } else {
                    Ok(parts)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { keep, remove })
    }

    /// `data` with the configured fields removed. `keep` applies first; JSON
    /// that is not an object passes `remove` unchanged and becomes `{}`
    /// with `keep`.
    pub fn apply(&self, data: &[u8]) -> Result<Vec<u8>, NotJson> {
        let value: &RawValue = serde_json::from_slice(data).map_err(|_| NotJson)?;
        let paths: Vec<&[String]> = self.remove.iter().map(Vec::as_slice).collect();
        let mut out = Vec::with_capacity(data.len());
        match &self.keep {
            Some(keep) if !value.get().starts_with('{') => out.extend_from_slice(b"{}"),
            keep => write_without(value, keep.as_deref(), &paths, &mut out)?,
        }
        Ok(out)
    }
}

fn string_list(value: &serde_json::Value, key: &str) -> Result<Option<Vec<String>>, String> {
    match value.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    format!("config `{key}` must be a list of strings, found {item}")
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(format!(
            "config `{key}` must be a list of strings, found {other}"
        )),
    }
}

/// Writes `value` to `out` without the fields `paths` lead to (and, in an
/// object, with only the fields in `keep` when set). Where a path meets an
/// array, it applies to every element.
fn write_without(
    value: &RawValue,
    keep: Option<&[String]>,
    paths: &[&[String]],
    out: &mut Vec<u8>,
) -> Result<(), NotJson> {
    let text = value.get();
    if keep.is_none() && paths.is_empty() {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    if text.starts_with('{') {
        let members: Members = serde_json::from_str(text).map_err(|_| NotJson)?;
        out.push(b'{');
        let mut first = true;
        for (name, child) in &members.0 {
            let name: &str = name;
            if keep.is_some_and(|keep| !keep.iter().any(|k| k == name)) {
                continue;
            }
            if paths.iter().any(|p| matches!(p, [last] if last == name)) {
                continue;
            }
            let below: Vec<&[String]> = paths
                .iter()
                .filter_map(|p| match p {
                    [head, rest @ ..] if head == name && !rest.is_empty() => Some(rest),
                    _ => None,
                })
                .collect();
            if !first {
                out.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut *out, name).map_err(|_| NotJson)?;
            out.push(b':');
            write_without(child, None, &below, out)?;
        }
        out.push(b'}');
    } else if text.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|_| NotJson)?;
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_without(item, None, paths, out)?;
        }
        out.push(b']');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
    Ok(())
}

/// An object's members in the order they were written, each value as the
/// text it was written as. A name is borrowed from the input unless it has
/// escapes.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(Name(name)) = map.next_key()? {
                    members.push((name, map.next_value()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// A member's name, borrowed from the input when it can be.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, name: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(name)))
            }
            fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(name.to_owned())))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(config: &str, data: &str) -> String {
        let redaction = Redaction::from_config(config).expect("config");
        String::from_utf8(redaction.apply(data.as_bytes()).expect("json")).expect("utf-8")
    }

    #[test]
    fn removes_top_level_and_nested_fields_keeping_order() {
        assert_eq!(
            redact(
                r#"{"remove": ["card", "customer.email", "lines.sku"]}"#,
                r#"{"z": 1, "card": "4111", "customer": {"email": "a@b", "id": 7}, "lines": [{"sku": "A", "qty": 2}, {"qty": 1}], "a": [1, 2]}"#
            ),
            r#"{"z":1,"customer":{"id":7},"lines":[{"qty":2},{"qty":1}],"a":[1, 2]}"#
        );
    }

    #[test]
    fn keep_then_remove() {
        assert_eq!(
            redact(
                r#"{"keep": ["id", "customer"], "remove": ["customer.email"]}"#,
                r#"{"total": 3, "customer": {"email": "x", "tier": "gold"}, "id": "o-1"}"#
            ),
            r#"{"customer":{"tier":"gold"},"id":"o-1"}"#
        );
    }

    #[test]
    fn names_with_escapes_are_matched_and_written_back() {
        assert_eq!(
            redact(
                r#"{"remove": ["card"]}"#,
                r#"{"c\u0061rd": 1, "say \"hi\"": 2}"#
            ),
            r#"{"say \"hi\"":2}"#
        );
    }

    #[test]
    fn non_objects() {
        assert_eq!(redact(r#"{"remove": ["a"]}"#, "[1,{\"a\":2}]"), "[1,{}]");
        assert_eq!(redact(r#"{"remove": ["a"]}"#, "\"text\""), "\"text\"");
        assert_eq!(redact(r#"{"keep": ["a"]}"#, "[1]"), "{}");
    }

    #[test]
    fn not_json_is_refused() {
        let redaction = Redaction::from_config(r#"{"remove": ["a"]}"#).expect("config");
        assert!(redaction.apply(b"{\"a\": ").is_err());
        assert!(redaction.apply(b"{} x").is_err());
        assert!(redaction.apply(b"\xff").is_err());
    }

    #[test]
    fn bad_config() {
        assert!(Redaction::from_config("{}").is_err());
        assert!(Redaction::from_config(r#"{"remove": ["a..b"]}"#).is_err());
        assert!(Redaction::from_config(r#"{"keep": "a"}"#).is_err());
    }
}
