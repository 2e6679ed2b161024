//! What the writer publishes after each commit: the new head position and a
//! compact summary of the group it just committed (the distinct stream
//! names and event types it appended), so a subscription waiting at the head
//! can tell, without a query, that none of those events can pass its filter.
//!
//! The summary is a superset of what a read would find: it names every
//! event the group appended, including events that a later operation of the
//! same group deleted again (`$maxCount`, soft delete). A group with many
//! distinct names is summarised as "re-read" instead, so a summary stays a
//! few hundred bytes however large the group.

use std::sync::Arc;

use crate::store::SubscriptionFilter;

/// Most distinct (stream, event type) pairs named in a summary; a group
/// with more is summarised as "re-read".
const MAX_NAMES: usize = 32;

/// The highest committed position and what the last commit appended.
#[derive(Debug, Clone, Default)]
pub(super) struct Committed {
    /// The highest committed position (0 when the log is empty).
    pub head: u64,
    /// What the commit that reached `head` appended.
    last_group: Arc<GroupSummary>,
}

impl Committed {
    /// The state of a store opened with `head` as its last position: there
    /// is no last group to describe.
    pub fn opened_at(head: u64) -> Self {
        Committed {
            head,
            last_group: Arc::new(GroupSummary {
                after: head,
                names: Some(Vec::new()),
            }),
        }
    }

    /// The state after a group that moved the head from `previous` to
    /// `head` and appended events named as in `names`.
    pub fn after_group(previous: u64, head: u64, names: GroupNames) -> Self {
        Committed {
            head,
            last_group: Arc::new(GroupSummary {
                after: previous,
                names: names.into_names(),
            }),
        }
    }

    /// True when no event after `after` (up to `head`) can pass `filter`, as
    /// far as this summary knows; false means "read to find out".
    pub fn rules_out(&self, after: u64, filter: &SubscriptionFilter) -> bool {
        let group = &self.last_group;
        // The summary covers the positions after `group.after` only.
        if after < group.after {
            return false;
        }
        match &group.names {
            Some(names) => !names
                .iter()
                .any(|(stream, event_type)| could_match(filter, stream, event_type)),
            None => false,
        }
    }
}

/// What one commit appended, for the positions after `after`.
#[derive(Debug, Default)]
struct GroupSummary {
    /// The head before the group.
    after: u64,
    /// The distinct (stream, event type) pairs appended, or `None`: too many
    /// to list, re-read.
    names: Option<Vec<(String, String)>>,
}

/// Collects the names of a group's appended events while the writer
/// commits it.
#[derive(Debug, Default)]
pub(super) struct GroupNames {
    names: Vec<(String, String)>,
    overflowed: bool,
}

impl GroupNames {
    /// Notes an event of type `event_type` appended to `stream`.
    pub fn add(&mut self, stream: &str, event_type: &str) {
        if self.overflowed
            || self
                .names
                .iter()
                .any(|(s, t)| s == stream && t == event_type)
        {
            return;
        }
        if self.names.len() == MAX_NAMES {
            self.overflowed = true;
            self.names = Vec::new();
            return;
        }
        self.names.push((stream.to_owned(), event_type.to_owned()));
    }

    fn into_names(self) -> Option<Vec<(String, String)>> {
        (!self.overflowed).then_some(self.names)
    }
}

/// [`SubscriptionFilter::matches`] for an event known by its stream and type
/// alone (the filter looks at nothing else).
fn could_match(filter: &SubscriptionFilter, stream: &str, event_type: &str) -> bool {
    if !filter.include_system_events && event_type.starts_with('$') {
        return false;
    }
    if filter.stream.as_ref().is_some_and(|m| !m.matches(stream)) {
        return false;
    }
    filter
        .event_type
        .as_ref()
        .is_none_or(|m| m.matches(event_type))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::store::{ContentType, Matcher, Pattern, Position, RecordedEvent};

    fn event(stream: &str, event_type: &str) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::new_v4(),
            stream: stream.into(),
            revision: 0,
            position: Position::new(1, 1),
            event_type: event_type.into(),
            content_type: ContentType::Json,
            created: Utc::now(),
            data: Default::default(),
            metadata: Default::default(),
        }
    }

    fn filters() -> Vec<SubscriptionFilter> {
        let prefixes =
            |p: &[&str]| Some(Matcher::Prefixes(p.iter().map(|s| s.to_string()).collect()));
        let regex = |r: &str| Some(Matcher::Regex(Pattern::new(r).expect("a valid pattern")));
        vec![
            SubscriptionFilter::default(),
            SubscriptionFilter::everything(),
            SubscriptionFilter {
                stream: prefixes(&["orders-"]),
                ..SubscriptionFilter::default()
            },
            SubscriptionFilter {
                stream: regex("^\\$connectors"),
                include_system_events: true,
                ..SubscriptionFilter::default()
            },
            SubscriptionFilter {
                event_type: prefixes(&["Order", "$heart"]),
                include_system_events: true,
                ..SubscriptionFilter::default()
            },
            SubscriptionFilter {
                stream: prefixes(&["orders-"]),
                event_type: regex("Placed$"),
                ..SubscriptionFilter::default()
            },
        ]
    }

    const NAMES: [(&str, &str); 6] = [
        ("orders-1", "OrderPlaced"),
        ("orders-1", "OrderShipped"),
        ("$connectors-members", "$heartbeat"),
        ("$connectors-members", "Heartbeat"),
        ("payments-2", "$metadata"),
        ("payments-2", "PaymentPlaced"),
    ];

    #[test]
    fn could_match_agrees_with_the_filter() {
        for filter in filters() {
            for (stream, event_type) in NAMES {
                assert_eq!(
                    could_match(&filter, stream, event_type),
                    filter.matches(&event(stream, event_type)),
                    "{filter:?} on {stream} / {event_type}"
                );
            }
        }
    }

    #[test]
    fn a_group_is_ruled_out_only_when_no_name_can_match() {
        let orders = SubscriptionFilter {
            stream: Some(Matcher::Prefixes(vec!["orders-".into()])),
            ..SubscriptionFilter::default()
        };
        let mut heartbeats = GroupNames::default();
        heartbeats.add("$connectors-members", "Heartbeat");
        let committed = Committed::after_group(10, 11, heartbeats);
        assert!(committed.rules_out(10, &orders));
        assert!(!committed.rules_out(10, &SubscriptionFilter::everything()));

        let mut mixed = GroupNames::default();
        mixed.add("$connectors-members", "Heartbeat");
        mixed.add("orders-7", "OrderPlaced");
        assert!(!Committed::after_group(10, 12, mixed).rules_out(10, &orders));
    }

    #[test]
    fn a_summary_says_nothing_about_positions_before_its_group() {
        let orders = SubscriptionFilter {
            stream: Some(Matcher::Prefixes(vec!["orders-".into()])),
            ..SubscriptionFilter::default()
        };
        let mut heartbeats = GroupNames::default();
        heartbeats.add("$connectors-members", "Heartbeat");
        let committed = Committed::after_group(10, 11, heartbeats);
        assert!(!committed.rules_out(9, &orders));
    }

    #[test]
    fn too_many_names_mean_re_read() {
        let nothing = SubscriptionFilter {
            stream: Some(Matcher::Prefixes(vec!["nothing-".into()])),
            ..SubscriptionFilter::default()
        };
        let mut names = GroupNames::default();
        for i in 0..=MAX_NAMES {
            names.add(&format!("orders-{i}"), "OrderPlaced");
        }
        assert!(!Committed::after_group(0, 100, names).rules_out(0, &nothing));
    }
}
