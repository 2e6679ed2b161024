//! Which connectors run on this member: membership, ownership, affinity and
//! hand-over, coordinated through the store alone.
//!
//! Every member of a cluster (several processes on one store) runs the same
//! loop:
//! - it heartbeats into `$connectors-members` ([`members`]); each stored
//!   heartbeat renews its [`lease`], which bounds how long it may deliver
//!   without news from the store;
//! - it follows the connectors' lifecycles, their owner streams and the
//!   heartbeats through one subscription ([`watch`]) into its [`view`];
//! - after every change it computes where each connector should run
//!   ([`assignment`]: deterministic, sticky, balanced, by affinity) and
//!   what it must do about it ([`decide`]), and does it: claims with an
//!   expected revision on `$connectors/{id}/owner` ([`ownership`]), starts
//!   and stops pipelines ([`supervisor`]), releases what moves elsewhere
//!   after checkpointing it.
//!
//! The API only appends commands; the member that owns a connector acts on
//! them when they arrive through the subscription, whichever member took
//! them. On a graceful stop a member checkpoints, releases everything and
//! says it leaves, so others take over at once; a member that dies is taken
//! over from once its lease has run out on the others' clocks.

mod assignment;
mod config;
mod decide;
mod heartbeat;
mod intake;
mod lease;
mod members;
mod ownership;
mod reconciler;
mod role;
mod supervisor;
mod view;
mod watch;
mod whereabouts;

pub use config::{ClusterConfig, ClusterConfigError, DEFAULT_HEARTBEAT, DEFAULT_LEASE};
pub use members::{Heartbeat, MEMBERS_STREAM};
pub use reconciler::Cluster;
pub use role::{member_role, RoleSource, ROLE_REFRESH};
pub use supervisor::{Supervisor, STOP_GRACE};
pub use whereabouts::{MemberView, Whereabouts};
