//! `fan-out`: a `transform` component that splits an event into one record
//! per element of an array in its JSON data.
//!
//! Config: `{"field": "lines", "eventType": "OrderLine"}`.
//! - `field` (required): where the array is; a dotted path (`"order.lines"`)
//!   reaches into nested objects.
//! - `eventType` (optional): the event type of the records; without it they
//!   keep the input's.
//!
//! Each record's data is the element as JSON (content type
//! `application/json`) with the header `index` = its place in the array,
//! from 0. Events without an array there, with an empty one, or whose data is
//! not JSON, are dropped.

use std::sync::{Mutex, PoisonError};

use serde_json::Value;

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
    field: Vec<String>,
    event_type: Option<String>,
}

static CONFIG: Mutex<Option<Config>> = Mutex::new(None);

fn fatal(message: impl Into<String>) -> Error {
    Error {
        kind: ErrorKind::Fatal,
        message: message.into(),
    }
}

fn parse_config(config: &str) -> Result<Config, String> {
    let value: Value =
        serde_json::from_str(config).map_err(|e| format!("config is not valid JSON: {e}"))?;
    let field = match value.get("field") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err("config `field` must be a non-empty string".into()),
        None => return Err("config needs `field`: where the array to fan out is".into()),
    };
    let field: Vec<String> = field.split('.').map(str::to_owned).collect();
    if field.iter().any(String::is_empty) {
        return Err("config `field` is not a valid dotted path".into());
    }
    let event_type = match value.get("eventType") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => return Err("config `eventType` must be a non-empty string".into()),
    };
    Ok(Config { field, event_type })
}

fn fan_out(config: &Config, data: &[u8]) -> Outcome {
    let Ok(mut value) = serde_json::from_slice::<Value>(data) else {
        return Outcome::Drop;
    };
    let mut at = &mut value;
    for part in &config.field {
        match at.get_mut(part.as_str()) {
            Some(child) => at = child,
            None => return Outcome::Drop,
        }
    }
    let Value::Array(items) = at.take() else {
        return Outcome::Drop;
    };
    if items.is_empty() {
        return Outcome::Drop;
    }
    Outcome::Emit(
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Emitted {
                data: serde_json::to_vec(&item).unwrap_or_default(),
                event_type: config.event_type.clone(),
                content_type: Some("application/json".into()),
                headers: vec![("index".into(), i.to_string())],
            })
            .collect(),
    )
}

struct Component;

impl Guest for Component {
    fn init(config: String) -> Result<(), Error> {
        let config = parse_config(&config).map_err(fatal)?;
        log(
            Level::Info,
            &format!(
                "fan-out: one record per element of `{}`",
                config.field.join(".")
            ),
        );
        *CONFIG.lock().unwrap_or_else(PoisonError::into_inner) = Some(config);
        Ok(())
    }

    fn transform(events: Vec<Event>) -> Result<Vec<Outcome>, Error> {
        let guard = CONFIG.lock().unwrap_or_else(PoisonError::into_inner);
        let config = guard
            .as_ref()
            .ok_or_else(|| fatal("transform called before init"))?;
        Ok(events.iter().map(|e| fan_out(config, &e.data)).collect())
    }
}

export!(Component);
