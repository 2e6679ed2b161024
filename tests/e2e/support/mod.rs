//! Test harness: the real binary and a real receiver.

mod node;
mod receiver;

pub use node::{event, eventually, NodeProcess};
pub use receiver::Receiver;
