//! Uploaded WebAssembly modules: the `/modules` API, their storage in the
//! event store, restarts and the compiled-component cache, against a real
//! in-process node.
//!
//! The real components come from `guest-examples/build.sh` (into
//! `guest-examples/dist/`); the hostile uploads need no build.

mod components;
mod hostile;
mod in_use;
mod support;
