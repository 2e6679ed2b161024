//! `redact`: a `transform` component that removes fields from JSON event data.
//!
//! Config, one or both of:
//! - `{"remove": ["card", "customer.email"]}`: remove these dotted paths;
//!   where a path meets an array, it applies to every element of it
//!   (`"lines.sku"` removes `sku` from each line).
//! - `{"keep": ["id", "total"]}`: keep only these top-level fields.
//!
//! With both, `keep` is applied first, then `remove`. An event whose data is
//! not JSON fails with `invalid-event` ("data is not JSON"), so it goes to the
//! dead-letter stream. Data that is JSON but not an object is passed through
//! by `remove` and becomes `{}` with `keep`.

use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value};

wit_bindgen::generate!({
    path: "../../../wit",
    world: "transform",
    // The vendored wasi:cli@0.2.12 imports an `@unstable(feature = clocks-timezone)`
    // interface, which this wit-parser can only resolve with the feature on;
    // it adds nothing to the `transform` world.
    features: ["clocks-timezone"],
});

use kurrent::connector::logging::{log, Level};
use kurrent::connector::types::{Emitted, ErrorKind};

struct Config {
    /// Top-level fields to keep, when set.
    keep: Option<Vec<String>>,
    /// Dotted paths to remove, each split at its dots.
    remove: Vec<Vec<String>>,
}

static CONFIG: Mutex<Option<Config>> = Mutex::new(None);

fn error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error {
        kind,
        message: message.into(),
    }
}

fn string_list(value: &Value, key: &str) -> Result<Option<Vec<String>>, String> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
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

fn parse_config(config: &str) -> Result<Config, String> {
    let value: Value =
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
    Ok(Config { keep, remove })
}

/// Removes the field at `path` below `value`, going into every element of
/// the arrays met on the way.
fn remove_path(value: &mut Value, path: &[String]) {
    match value {
        Value::Object(map) => match path {
            [] => {}
            [last] => {
                // `shift_remove` keeps the order of the other fields.
                map.shift_remove(last);
            }
            [first, rest @ ..] => {
                if let Some(child) = map.get_mut(first) {
                    remove_path(child, rest);
                }
            }
        },
        Value::Array(items) => {
            for item in items {
                remove_path(item, path);
            }
        }
        _ => {}
    }
}

fn redact(config: &Config, data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut value: Value = serde_json::from_slice(data)
        .map_err(|_| error(ErrorKind::InvalidEvent, "data is not JSON"))?;
    if let Some(keep) = &config.keep {
        match &mut value {
            Value::Object(map) => map.retain(|field, _| keep.contains(field)),
            _ => value = Value::Object(Map::new()),
        }
    }
    for path in &config.remove {
        remove_path(&mut value, path);
    }
    serde_json::to_vec(&value).map_err(|e| error(ErrorKind::InvalidEvent, e.to_string()))
}

struct Component;

impl Guest for Component {
    fn init(config: String) -> Result<(), Error> {
        let config = parse_config(&config).map_err(|m| error(ErrorKind::Fatal, m))?;
        log(
            Level::Info,
            &format!(
                "redact: keep {}, remove {} path(s)",
                config
                    .keep
                    .as_ref()
                    .map_or("all fields".to_string(), |k| format!(
                        "{} field(s)",
                        k.len()
                    )),
                config.remove.len()
            ),
        );
        *CONFIG.lock().unwrap_or_else(PoisonError::into_inner) = Some(config);
        Ok(())
    }

    fn transform(events: Vec<Event>) -> Result<Vec<Outcome>, Error> {
        let guard = CONFIG.lock().unwrap_or_else(PoisonError::into_inner);
        let config = guard
            .as_ref()
            .ok_or_else(|| error(ErrorKind::Fatal, "transform called before init"))?;
        Ok(events
            .iter()
            .map(|event| match redact(config, &event.data) {
                Ok(data) => Outcome::Emit(vec![Emitted {
                    data,
                    event_type: None,
                    content_type: None,
                    headers: Vec::new(),
                }]),
                Err(e) => Outcome::Fail(e),
            })
            .collect())
    }
}

export!(Component);
