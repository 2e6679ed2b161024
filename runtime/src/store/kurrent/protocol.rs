//! The protocol types and clients this backend calls itself, generated from
//! `runtime/proto/` (the official client has no multi-stream append): the
//! v2 streams service with its error details, the status message that
//! carries them, and gossip to find a cluster's leader. Private to the
//! backend; the nesting mirrors the protobuf packages so the generated
//! cross-package paths resolve.

#![allow(dead_code, clippy::all, clippy::pedantic)]

pub mod event_store {
    pub mod client {
        tonic::include_proto!("event_store.client");

        pub mod gossip {
            tonic::include_proto!("event_store.client.gossip");
        }
    }
}

pub mod kurrentdb {
    pub mod protocol {
        pub mod v2 {
            pub mod streams {
                tonic::include_proto!("kurrentdb.protocol.v2.streams");

                pub mod errors {
                    tonic::include_proto!("kurrentdb.protocol.v2.streams.errors");
                }
            }
        }
    }
}

pub mod google {
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

pub use event_store::client::gossip;
pub use kurrentdb::protocol::v2::streams as v2;
