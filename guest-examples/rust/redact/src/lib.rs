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
//!
//! The redaction is in `redaction.rs`, plain Rust with no WIT types; this
//! file is the component's glue: the config kept by `init`, one outcome per
//! event in `transform`.

use std::sync::{Mutex, PoisonError};

mod redaction;

use redaction::Redaction;

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

static REDACTION: Mutex<Option<Redaction>> = Mutex::new(None);

fn error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error {
        kind,
        message: message.into(),
    }
}

struct Component;

impl Guest for Component {
    fn init(config: String) -> Result<(), Error> {
        let config = Redaction::from_config(&config).map_err(|m| error(ErrorKind::Fatal, m))?;
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
        *REDACTION.lock().unwrap_or_else(PoisonError::into_inner) = Some(config);
        Ok(())
    }

    fn transform(events: Vec<Event>) -> Result<Vec<Outcome>, Error> {
        let guard = REDACTION.lock().unwrap_or_else(PoisonError::into_inner);
        let redaction = guard
            .as_ref()
            .ok_or_else(|| error(ErrorKind::Fatal, "transform called before init"))?;
        Ok(events
            .iter()
            .map(|event| match redaction.apply(&event.data) {
                Ok(data) => Outcome::Emit(vec![Emitted {
                    data,
                    event_type: None,
                    content_type: None,
                    headers: Vec::new(),
                }]),
                Err(redaction::NotJson) => {
                    Outcome::Fail(error(ErrorKind::InvalidEvent, "data is not JSON"))
                }
            })
            .collect())
    }
}

export!(Component);
