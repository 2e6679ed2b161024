//! What clients ask a node when they connect: the supported methods (they
//! choose code paths from it) and the cluster's members (one alive leader:
//! this node).

use chrono::Utc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::convert::{ticks_since_epoch, uuid_to_proto};
use super::proto::gossip::{self, member_info::VNodeState, ClusterInfo, EndPoint, MemberInfo};
use super::proto::server_features::{self, SupportedMethod, SupportedMethods};
use super::proto::Empty;

/// The protocol version this server speaks, as KurrentDB reports its own.
/// It stays 24.10 although the 25.1 `AppendSession` is served: the clients
/// choose code paths by the methods listed, not by this version (the Node.js
/// client compares it only for persistent subscriptions, which this node
/// does not serve), and most of 25.1 is not served.
pub const PROTOCOL_VERSION: &str = "24.10.0";

const STREAMS: &str = "event_store.client.streams.Streams";
const FEATURES: &str = "event_store.client.server_features.ServerFeatures";
const GOSSIP: &str = "event_store.client.gossip.Gossip";

/// The methods served, with their features. `BatchAppend` carries
/// `deadline_duration` as on KurrentDB: it accepts a deadline as a time
/// from now as well as an instant. The v2 `AppendSession` is listed (clients
/// check for it before a multi-stream append); the v2 `AppendRecords` is not.
/// Names are in lower case, as KurrentDB lists them: the Rust client looks
/// for exactly `batchappend` in `event_store.client.streams.streams` (the
/// Node.js client compares without regard to case).
fn supported_methods() -> Vec<SupportedMethod> {
    let method = |service: &str, name: &str, features: &[&str]| SupportedMethod {
        method_name: name.to_lowercase(),
        service_name: service.to_lowercase(),
        features: features.iter().map(|f| (*f).to_owned()).collect(),
    };
    vec![
        method(STREAMS, "Read", &["position", "events"]),
        method(STREAMS, "Append", &[]),
        method(STREAMS, "BatchAppend", &["deadline_duration"]),
        method(STREAMS, "Delete", &[]),
        method(STREAMS, "Tombstone", &[]),
        method(super::v2::SERVICE, "AppendSession", &[]),
        method(FEATURES, "GetSupportedMethods", &[]),
        method(GOSSIP, "Read", &[]),
    ]
}

pub struct Features;

#[tonic::async_trait]
impl server_features::server_features_server::ServerFeatures for Features {
    async fn get_supported_methods(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<SupportedMethods>, Status> {
        Ok(Response::new(SupportedMethods {
            methods: supported_methods(),
            event_store_server_version: PROTOCOL_VERSION.to_owned(),
        }))
    }
}

/// Gossip for a single node: itself, alive, leader, at `advertised`.
pub struct Gossip {
    instance: Uuid,
    host: String,
    port: u16,
}

impl Gossip {
    pub fn new(host: String, port: u16) -> Self {
        Self {
            instance: Uuid::new_v4(),
            host,
            port,
        }
    }
}

#[tonic::async_trait]
impl gossip::gossip_server::Gossip for Gossip {
    async fn read(&self, _request: Request<Empty>) -> Result<Response<ClusterInfo>, Status> {
        Ok(Response::new(ClusterInfo {
            members: vec![MemberInfo {
                instance_id: Some(uuid_to_proto(self.instance, true)),
                time_stamp: ticks_since_epoch(Utc::now()),
                state: VNodeState::Leader as i32,
                is_alive: true,
                http_end_point: Some(EndPoint {
                    address: self.host.clone(),
                    port: u32::from(self.port),
                }),
            }],
        }))
    }
}
