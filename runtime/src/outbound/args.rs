//! The command-line flags of the destination policy.

use ipnet::IpNet;

use super::policy::{parse_range, DestinationRules};

/// Where sinks may connect (`connectors serve --sink-deny ... --sink-allow ...`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DestinationArgs {
    /// Refuse sink destinations in these ranges too (CIDR or address,
    /// repeatable or comma-separated), e.g. `10.0.0.0/8,fd00::/8`.
    #[arg(
        long = "sink-deny",
        env = "CONNECTORS_SINK_DENY",
        value_name = "CIDR",
        value_delimiter = ',',
        value_parser = parse_range
    )]
    pub sink_deny: Vec<IpNet>,
    /// Allow sink destinations in these ranges even when refused by default
    /// or by `--sink-deny`, e.g. `169.254.10.0/24` (the node's own listeners
    /// stay refused).
    #[arg(
        long = "sink-allow",
        env = "CONNECTORS_SINK_ALLOW",
        value_name = "CIDR",
        value_delimiter = ',',
        value_parser = parse_range
    )]
    pub sink_allow: Vec<IpNet>,
}

impl DestinationArgs {
    /// The rules these flags give.
    pub fn rules(&self) -> DestinationRules {
        DestinationRules {
            allow: self.sink_allow.clone(),
            deny: self.sink_deny.clone(),
        }
    }
}
