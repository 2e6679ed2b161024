//! Test harness: the real binary and a real receiver.

mod node;
mod receiver;

pub use node::{event, eventually, free_port, NodeProcess};
pub use receiver::Receiver;
