//! Test harness: the real binary, a real receiver, and clusters of members.

pub mod browser;
mod clients;
pub mod cluster;
pub mod deliveries;
mod node;
mod ordering;
mod receiver;

pub use clients::{assert_orders_reach_a_connector, grpc_node, passed_checks, run_script};
pub use node::{event, eventually, example, free_port, status_message, NodeProcess};
pub use ordering::assert_in_order_with_bounded_replays;
pub use receiver::{Received, Receiver};
