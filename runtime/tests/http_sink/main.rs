//! The HTTP sink against a real HTTP receiver on 127.0.0.1, and the sink
//! settings as the API reads them.

mod batch;
mod failures;
mod per_event;
mod settings;
mod support;
