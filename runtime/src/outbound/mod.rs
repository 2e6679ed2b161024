//! Where sinks may connect: the node's destination policy.
//!
//! [`DestinationPolicy`] decides on resolved addresses (link-local, cloud
//! metadata, unspecified, multicast and the node's own listeners refused by
//! default; loopback and private ranges allowed; `--sink-deny` and
//! `--sink-allow` on top). [`client`] builds HTTP clients that apply it at
//! connect time, after name resolution, so a name rebound to a refused
//! address is still refused. The node builds one policy at start
//! ([`DestinationArgs`] from the command line, its listeners' addresses) and
//! shares it with the HTTP sink and the WebAssembly host.

mod args;
pub mod client;
mod policy;

pub use args::DestinationArgs;
pub use policy::{
    parse_range, DestinationPolicy, DestinationRefused, DestinationRules, RefusalReason,
};
