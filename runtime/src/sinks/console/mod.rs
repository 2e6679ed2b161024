//! The console sink: prints events to standard output, for trying things out
//! and for piping into other tools.
//!
//! Two formats: `text` (default) prints one readable line per event,
//! `#<position> <stream>@<revision> <type> <data>`, with JSON data compacted
//! and other data shown as `<N bytes>`; `json` prints one
//! [envelope](crate::sinks::envelope) per line (JSON lines). A batch is
//! written under one lock of standard output and flushed, so lines of
//! concurrent connectors never interleave. Every written event is delivered;
//! failing to write (e.g. a closed pipe) faults the connector.

mod config;
mod sink;

pub use config::{ConsoleFormat, ConsoleSinkConfig};
pub use sink::{format_batch, ConsoleSink};
