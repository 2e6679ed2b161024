//! `filter-by-type`: a `transform` component that keeps only the events whose
//! event type is listed in its config, unchanged, and drops the others.
//!
//! Config: `{"types": ["OrderPlaced", "OrderShipped"]}`.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

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

/// The event types to keep, set by `init`.
static TYPES: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn fatal(message: impl Into<String>) -> Error {
    Error {
        kind: ErrorKind::Fatal,
        message: message.into(),
    }
}

fn parse_config(config: &str) -> Result<HashSet<String>, String> {
    let value: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("config is not valid JSON: {e}"))?;
    let types = value
        .get("types")
        .ok_or_else(|| "config needs `types`: a list of event types to keep".to_string())?;
    let list = types
        .as_array()
        .ok_or_else(|| "config `types` must be a list of strings".to_string())?;
    list.iter()
        .map(|t| {
            t.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("config `types` must be a list of strings, found {t}"))
        })
        .collect()
}

struct Component;

impl Guest for Component {
    fn init(config: String) -> Result<(), Error> {
        let types = parse_config(&config).map_err(fatal)?;
        if types.is_empty() {
            log(Level::Warn, "`types` is empty: every event will be dropped");
        }
        log(
            Level::Info,
            &format!("filter-by-type keeps {} event type(s)", types.len()),
        );
        *TYPES.lock().unwrap_or_else(PoisonError::into_inner) = Some(types);
        Ok(())
    }

    fn transform(events: Vec<Event>) -> Result<Vec<Outcome>, Error> {
        let guard = TYPES.lock().unwrap_or_else(PoisonError::into_inner);
        let types = guard
            .as_ref()
            .ok_or_else(|| fatal("transform called before init"))?;
        Ok(events
            .into_iter()
            .map(|event| {
                if types.contains(&event.event_type) {
                    Outcome::Emit(vec![Emitted {
                        data: event.data,
                        event_type: None,
                        content_type: None,
                        headers: Vec::new(),
                    }])
                } else {
                    Outcome::Drop
                }
            })
            .collect())
    }
}

export!(Component);
