//! The protocol types and service traits generated from `runtime/proto/`.
//! Private to the gRPC module; the nesting mirrors the protobuf packages so
//! the generated cross-package paths resolve.

#![allow(clippy::all, clippy::pedantic)]
// The generated clients are used by the protocol tests only.
#![cfg_attr(not(test), allow(dead_code))]

pub mod event_store {
    pub mod client {
        tonic::include_proto!("event_store.client");

        pub mod streams {
            tonic::include_proto!("event_store.client.streams");
        }

        pub mod gossip {
            tonic::include_proto!("event_store.client.gossip");
        }

        pub mod server_features {
            tonic::include_proto!("event_store.client.server_features");
        }
    }
}

pub mod kurrentdb {
    pub mod protocol {
        pub mod v2 {
            pub mod streams {
                tonic::include_proto!("kurrentdb.protocol.v2.streams");

                // The node never sends some of these details.
                #[allow(dead_code)]
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

pub use event_store::client::{gossip, server_features, streams, Empty, StreamIdentifier, Uuid};
