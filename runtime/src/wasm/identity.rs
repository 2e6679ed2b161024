//! Which connector and stage a component instance runs for: named in its
//! log lines, its limits' messages and its outgoing requests, and counted
//! in its connector's metrics (traps, instances created again).

use crate::metrics::InstanceCounters;

/// Who runs the component, for log lines and the HTTP allow-list.
#[derive(Clone)]
pub struct GuestIdentity {
    pub connector: String,
    /// The stage's name, e.g. `transform[0]:redact` or `sink:webhook`.
    pub stage: String,
    /// The component's secrets: its log lines show them as `******`.
    pub secrets: Vec<String>,
    /// Where its traps and restarts are counted.
    pub counters: InstanceCounters,
}

/// Shows the secrets' count only.
impl std::fmt::Debug for GuestIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestIdentity")
            .field("connector", &self.connector)
            .field("stage", &self.stage)
            .field("secrets", &self.secrets.len())
            .finish()
    }
}
