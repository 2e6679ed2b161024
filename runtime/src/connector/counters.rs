//! What a connector did with the events it read, counted: the totals kept
//! in its checkpoints (so they survive disable / enable, resets, restarts
//! and crashes, up to the last checkpoint) and the counts of one run.

use serde::{Deserialize, Serialize};

/// Events counted by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Accepted by the sink.
    #[serde(default)]
    pub delivered: u64,
    /// Refused by the sink or a transform (then dead-lettered or faulting).
    #[serde(default)]
    pub failed: u64,
    /// Written to the connector's dead-letter stream.
    #[serde(default)]
    pub dead_lettered: u64,
    /// Dropped by the filter or a transform.
    #[serde(default)]
    pub filtered_out: u64,
}

impl Counters {
    /// The sum of two counts.
    pub fn plus(self, other: Counters) -> Counters {
        Counters {
            delivered: self.delivered.saturating_add(other.delivered),
            failed: self.failed.saturating_add(other.failed),
            dead_lettered: self.dead_lettered.saturating_add(other.dead_lettered),
            filtered_out: self.filtered_out.saturating_add(other.filtered_out),
        }
    }

    /// Each count at the larger of the two: totals only grow, so of two
    /// records of one connector the larger count is the newer.
    pub fn max_each(self, other: Counters) -> Counters {
        Counters {
            delivered: self.delivered.max(other.delivered),
            failed: self.failed.max(other.failed),
            dead_lettered: self.dead_lettered.max(other.dead_lettered),
            filtered_out: self.filtered_out.max(other.filtered_out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_checkpoints_without_totals_read_as_zero() {
        let counters: Counters = serde_json::from_str("{}").expect("counters");
        assert_eq!(counters, Counters::default());
    }

    #[test]
    fn max_each_keeps_the_newest_of_growing_totals() {
        let a = Counters {
            delivered: 5,
            filtered_out: 1,
            ..Counters::default()
        };
        let b = Counters {
            delivered: 3,
            dead_lettered: 2,
            ..Counters::default()
        };
        let both = a.max_each(b);
        assert_eq!(
            (both.delivered, both.dead_lettered, both.filtered_out),
            (5, 2, 1)
        );
        assert_eq!(a.plus(b).delivered, 8);
    }
}
