//! A pipeline's right to deliver: the member that runs it, the ownership
//! epoch it runs under, and until when the member's lease lets it deliver.
//!
//! A pipeline asks [`Tenure::holds`] before it hands a batch to its sink and
//! before it saves a checkpoint, and abandons a delivery in flight when
//! [`Tenure::lost`] completes; from then on it writes nothing more, so a
//! member that lost its lease (it could not reach the store, or was frozen)
//! never delivers past the moment another member may take the connector
//! over.

use std::sync::Arc;

use tokio::time::Instant;

use crate::sinks::OwnerTag;

/// Until when a tenure lasts: `None` once it ended for good.
type Until = Arc<dyn Fn() -> Option<Instant> + Send + Sync>;

/// Who runs a pipeline, and for how long it may.
#[derive(Clone)]
pub struct Tenure {
    owner: Option<OwnerTag>,
    until: Until,
}

impl Tenure {
    /// A tenure that never ends and names no member: a pipeline run outside
    /// a cluster (tests, benchmarks, a library host that places connectors
    /// itself).
    pub fn unconditional() -> Self {
        Self {
            owner: None,
            until: Arc::new(|| Some(Instant::now() + std::time::Duration::from_secs(86_400))),
        }
    }

    /// A tenure of `owner` until what `until` says (it moves forward as the
    /// member renews its lease; `None` once the lease lapsed).
    pub fn new(
        owner: OwnerTag,
        until: impl Fn() -> Option<Instant> + Send + Sync + 'static,
    ) -> Self {
        Self {
            owner: Some(owner),
            until: Arc::new(until),
        }
    }

    /// Whether the pipeline may still deliver and checkpoint.
    pub fn holds(&self) -> bool {
        (self.until)().is_some_and(|until| Instant::now() < until)
    }

    /// Completes when the tenure ends: at its deadline, or within
    /// [`RECHECK`] of the lease ending before it (another member took the
    /// connector over), which no timer announces.
    pub async fn lost(&self) {
        loop {
            match (self.until)() {
                Some(until) if Instant::now() < until => {
                    tokio::time::sleep_until(until.min(Instant::now() + RECHECK)).await
                }
                _ => return,
            }
        }
    }

    /// The member and epoch, sent with each delivery.
    pub fn owner(&self) -> Option<&OwnerTag> {
        self.owner.as_ref()
    }
}

/// How often a pipeline waiting on deliveries looks at its lease again.
const RECHECK: std::time::Duration = std::time::Duration::from_millis(250);

impl std::fmt::Debug for Tenure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenure")
            .field("owner", &self.owner)
            .field("holds", &self.holds())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_lease_ended_before_its_deadline_is_seen_without_waiting_for_it() {
        let lease = Arc::new(Mutex::new(Some(
            Instant::now() + Duration::from_secs(86_400),
        )));
        let until = Arc::clone(&lease);
        let tenure = Tenure::new(
            OwnerTag {
                member: "m1".into(),
                epoch: 1,
            },
            move || *until.lock().expect("lease"),
        );
        assert!(tenure.holds());
        let waiting = tokio::spawn({
            let tenure = tenure.clone();
            async move { tenure.lost().await }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiting.is_finished(), "the lease still holds");
        *lease.lock().expect("lease") = None;
        // Paused time jumps to the next timer: the deadline a day away, or
        // the next look at the lease.
        tokio::time::timeout(Duration::from_secs(60), waiting)
            .await
            .expect("seen long before the old deadline")
            .expect("the task ran");
        assert!(!tenure.holds());
    }
}
