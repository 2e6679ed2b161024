//! `/connectors`: create, list, inspect, reconfigure, enable, disable, reset
//! and delete connectors, in this node's native shape and in KurrentDB's
//! settings-map shape ([`kurrent`]).
//!
//! `view` shows a connector (definition with secrets redacted, live status
//! from wherever it runs); `checks` is what every definition passes before
//! it is stored; `read`, `define` and `lifecycle` are the native routes.

mod checks;
mod define;
mod kurrent;
mod lifecycle;
mod read;
mod view;

pub use define::*;
pub use kurrent::{
    get_settings, put_settings, rename, reset_to, start, start_at, stop, KurrentListing,
};
pub use lifecycle::*;
pub use read::*;
// The routes' OpenAPI descriptions, generated beside each handler.
pub use kurrent::{
    __path_get_settings, __path_put_settings, __path_rename, __path_reset_to, __path_start,
    __path_start_at, __path_stop,
};
