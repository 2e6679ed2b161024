//! This member's lease: how long it may go on delivering since its last
//! heartbeat that the store took.
//!
//! Every stored heartbeat renews the lease until `sent + fence_after`,
//! measured on this process's monotonic clock from when the heartbeat was
//! sent. Other members count a member dead once they have heard nothing from
//! it for the whole lease (`lease` > `fence_after`), measured on their own
//! clocks from when they received its last heartbeat, which was after it
//! was sent: so a member stops delivering before anyone may take its
//! connectors over, as long as clocks run at about the same rate and no
//! process is stalled for longer than `lease - fence_after` between a check
//! of the lease and the write it guards.
//!
//! A lapsed lease ends a *term*: pipelines started in it stop for good, and
//! a renewal starts a new term in which the member must claim its
//! connectors again (with a new epoch) before it runs them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// The lease of this member.
#[derive(Debug)]
pub struct Lease {
    fence_after: Duration,
    state: Mutex<LeaseState>,
}

#[derive(Debug, Default)]
struct LeaseState {
    valid_until: Option<Instant>,
    term: u64,
}

impl Lease {
    pub fn new(fence_after: Duration) -> Arc<Self> {
        Arc::new(Self {
            fence_after,
            state: Mutex::new(LeaseState::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LeaseState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A heartbeat sent at `sent` was stored: the lease lasts until
    /// `sent + fence_after`. After a lapse this starts a new term.
    pub fn renewed(&self, sent: Instant) {
        let now = Instant::now();
        let mut state = self.state();
        if state.valid_until.is_none_or(|until| now >= until) {
            state.term += 1;
            state.valid_until = None;
        }
        let until = sent + self.fence_after;
        if state.valid_until.is_none_or(|current| until > current) {
            state.valid_until = Some(until);
        }
    }

    /// The current term, while the lease holds.
    pub fn term(&self) -> Option<u64> {
        let state = self.state();
        state
            .valid_until
            .filter(|until| Instant::now() < *until)
            .map(|_| state.term)
    }

    /// Until when the lease holds for what was started in `term`; `None`
    /// once that term is over.
    pub fn until(&self, term: u64) -> Option<Instant> {
        let state = self.state();
        let until = state.valid_until?;
        (state.term == term && Instant::now() < until).then_some(until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_lapsed_lease_ends_its_term_for_good() {
        let lease = Lease::new(Duration::from_secs(3));
        assert_eq!(lease.term(), None, "no lease before the first heartbeat");
        lease.renewed(Instant::now());
        let first = lease.term().expect("held after a heartbeat");
        tokio::time::advance(Duration::from_secs(2)).await;
        lease.renewed(Instant::now());
        assert_eq!(lease.term(), Some(first), "renewed in time: same term");
        assert!(lease.until(first).is_some());

        // Frozen past the lease: the term is over, even once renewed.
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(lease.term(), None);
        assert_eq!(lease.until(first), None);
        lease.renewed(Instant::now());
        let second = lease.term().expect("held again");
        assert_ne!(second, first);
        assert_eq!(lease.until(first), None, "the old term never comes back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_heartbeat_stored_late_renews_from_when_it_was_sent() {
        let lease = Lease::new(Duration::from_secs(3));
        let sent = Instant::now();
        tokio::time::advance(Duration::from_secs(4)).await;
        lease.renewed(sent);
        assert_eq!(lease.term(), None, "sent too long ago to hold");
    }
}
