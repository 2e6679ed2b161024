//! Uploaded components, kept in the event store so every member of a cluster
//! sees the same ones.
//!
//! A module is content-addressed: its digest is `sha256:<lowercase hex>` of
//! its bytes. The bytes live as `$ModuleChunk` events (binary, at most
//! [`CHUNK_BYTES`] each) in the stream `$modules/sha256:<hex>`, written in
//! appends of at most [`MAX_APPEND_BYTES`]. The stream `$modules` is the index:
//! a `$ModuleUploaded` event names a version of a module once its chunks are
//! stored, a `$ModuleDeleted` event forgets every version of a name (the
//! chunks stay: another name may share them). The [`ModuleRegistry`] validates
//! uploads with the [`WasmHost`](crate::wasm::WasmHost) before anything is
//! stored (logging when it starts compiling, when it compiled and when the
//! compiled artifact is cached, and telling how long compiling took), and
//! reads the index on every call, so what one member uploads the others see
//! at once. [`ModuleRegistry::followers`] names the connectors that follow a
//! name and so run its newest upload from their next start; what uses
//! modules comes from [`ModuleUsers`], implemented by the connectors.

mod chunks;
mod error;
mod followers;
mod index;
mod reference;
mod registry;
mod users;

pub use error::ModuleError;
pub use followers::{following_stages, Follower};
pub use index::{ModuleVersion, DELETED_EVENT, INDEX_STREAM, UPLOADED_EVENT};
pub use reference::{valid_module_name, InvalidModuleRef, ModuleRef};
pub use registry::{
    digest_of, ModuleDetail, ModuleRegistry, ModuleSummary, Upload, CHUNK_BYTES, CHUNK_EVENT,
    DEFAULT_MAX_MODULE_BYTES, MAX_APPEND_BYTES,
};
pub use users::{ModuleUser, ModuleUsers, ModuleUsersError, NoModuleUsers};

/// The stream holding the chunks of the module with `digest`
/// (`sha256:<hex>`).
pub fn chunk_stream(digest: &str) -> String {
    format!("{INDEX_STREAM}/{digest}")
}
