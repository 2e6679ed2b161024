//! The destination policy applied to sink settings at create time: a host
//! given as an IP literal is checked before the connector is stored (names
//! are checked when they are resolved, at connect time).

use std::net::IpAddr;

use super::{ConfigError, SinkConfig};
use crate::outbound::{client::check_literal, DestinationPolicy, DestinationRefused};

impl SinkConfig {
    /// Refuses settings whose destination is an IP literal the policy
    /// refuses, naming the setting.
    pub fn check_destinations(&self, policy: &DestinationPolicy) -> Result<(), ConfigError> {
        match self {
            SinkConfig::Console(_) => Ok(()),
            SinkConfig::Http(c) => match reqwest::Url::parse(&c.url) {
                Ok(url) => check_literal(policy, &url).map_err(|e| refused("sink.url", &e)),
                // A template in the host: checked when it is resolved.
                Err(_) => Ok(()),
            },
            SinkConfig::Wasm(c) => {
                for (i, entry) in c.allow_hosts.iter().enumerate() {
                    if let Some((address, port)) = literal_entry(entry) {
                        policy
                            .check(address, port)
                            .map_err(|e| refused(&format!("sink.allowHosts[{i}]"), &e))?;
                    }
                }
                Ok(())
            }
        }
    }
}

fn refused(field: &str, error: &DestinationRefused) -> ConfigError {
    ConfigError::new(field, format!("names a refused destination: {error}"))
}

/// An `allowHosts` entry that is an IP literal (`10.0.0.1`, `10.0.0.1:8080`,
/// `[::1]:8080`, `::1`), with its port when given.
fn literal_entry(entry: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some((address, None));
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some((socket.ip(), Some(socket.port())));
    }
    let bracketed = entry.strip_prefix('[')?.strip_suffix(']')?;
    Some((bracketed.parse().ok()?, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(json: serde_json::Value) -> SinkConfig {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_literal_sink_url_in_a_refused_range_names_the_field_and_the_flag() {
        let policy = DestinationPolicy::default();
        let error =
            sink(serde_json::json!({"type": "http", "url": "http://169.254.169.254/latest"}))
                .check_destinations(&policy)
                .unwrap_err();
        assert_eq!(error.field, "sink.url");
        assert!(
            error.message.contains("--sink-allow 169.254.169.254/32"),
            "{error}"
        );
        let named =
            sink(serde_json::json!({"type": "http", "url": "http://metadata.internal/latest"}));
        assert_eq!(named.check_destinations(&policy), Ok(()));
    }

    #[test]
    fn literal_allow_hosts_entries_are_checked_with_their_port() {
        let own = "127.0.0.1:2119".parse().unwrap();
        let policy = DestinationPolicy::new(Default::default(), vec![own]);
        let config = |hosts: &[&str]| {
            sink(serde_json::json!({"type": "wasm", "module": "m", "allowHosts": hosts}))
        };
        let error = config(&["hooks.example.com", "127.0.0.1:2119"])
            .check_destinations(&policy)
            .unwrap_err();
        assert_eq!(error.field, "sink.allowHosts[1]");
        let error = config(&["[fe80::1]"])
            .check_destinations(&policy)
            .unwrap_err();
        assert_eq!(error.field, "sink.allowHosts[0]");
        assert_eq!(
            config(&["127.0.0.1:8080", "10.0.0.1"]).check_destinations(&policy),
            Ok(())
        );
    }
}
