//! The protocol types and clients this backend calls itself, generated from
//! `runtime/proto/`: `Streams.Read` for `$all` subscriptions (messages whose
//! payloads are `Bytes`), the v2 streams service with its error details
//! and the status message that carries them (the official client has no
//! multi-stream append), and gossip to find a cluster's nodes. Private to the
//! backend; the nesting mirrors the protobuf packages so the generated
//! cross-package paths resolve.

#![allow(dead_code, clippy::all, clippy::pedantic)]

pub mod event_store {
    pub mod client {
        tonic::include_proto!("event_store.client");

        pub mod streams {
            tonic::include_proto!("event_store.client.streams");
        }

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

pub use event_store::client::{gossip, streams};
pub use kurrentdb::protocol::v2::streams as v2;
