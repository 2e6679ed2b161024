use super::{Pattern, RecordedEvent};

/// Matches a stream name or an event type.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Matches when the value starts with any of the prefixes.
    Prefixes(Vec<String>),
    /// Matches when the regular expression (.NET semantics) finds a match
    /// in the value.
    Regex(Pattern),
}

impl Matcher {
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Prefixes(prefixes) => prefixes.iter().any(|p| value.starts_with(p.as_str())),
            Matcher::Regex(regex) => regex.is_match(value),
        }
    }
}

/// A server-side filter for `$all` subscriptions.
#[derive(Debug, Clone)]
pub struct SubscriptionFilter {
    /// Only events of streams that match.
    pub stream: Option<Matcher>,
    /// Only events whose type matches.
    pub event_type: Option<Matcher>,
    /// Whether `$`-prefixed event types are delivered.
    pub include_system_events: bool,
    /// A checkpoint is reported at least every this many events considered.
    pub checkpoint_interval: u32,
}

impl Default for SubscriptionFilter {
    fn default() -> Self {
        Self {
            stream: None,
            event_type: None,
            include_system_events: false,
            checkpoint_interval: 1000,
        }
    }
}

impl SubscriptionFilter {
    /// Everything, system events included.
    pub fn everything() -> Self {
        Self {
            include_system_events: true,
            ..Self::default()
        }
    }

    pub fn matches(&self, event: &RecordedEvent) -> bool {
        if !self.include_system_events && event.is_system() {
            return false;
        }
        if let Some(m) = &self.stream {
            if !m.matches(&event.stream) {
                return false;
            }
        }
        if let Some(m) = &self.event_type {
            if !m.matches(&event.event_type) {
                return false;
            }
        }
        true
    }
}
