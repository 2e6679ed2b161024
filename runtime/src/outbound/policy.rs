//! The rules: which IP addresses (and ports) sinks may connect to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// The ranges an operator allows or denies on top of the defaults
/// (`--sink-allow`, `--sink-deny`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationRules {
    /// Reachable even when a default or `deny` refuses them.
    pub allow: Vec<IpNet>,
    /// Refused in addition to the defaults.
    pub deny: Vec<IpNet>,
}

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    /// Link-local (`169.254.0.0/16`, `fe80::/10`), where cloud metadata
    /// services answer.
    LinkLocal,
    /// A cloud metadata address outside the link-local range.
    CloudMetadata,
    /// `0.0.0.0/8` or `::`, which reach this host.
    Unspecified,
    /// Multicast or broadcast.
    Multicast,
    /// One of this node's own listeners.
    OwnListener(SocketAddr),
    /// A `--sink-deny` range.
    Denied(IpNet),
}

impl std::fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefusalReason::LinkLocal => f.write_str("link-local addresses (cloud metadata services answer there) are refused by default"),
            RefusalReason::CloudMetadata => f.write_str("cloud metadata addresses are refused by default"),
            RefusalReason::Unspecified => f.write_str("unspecified addresses are refused by default"),
            RefusalReason::Multicast => f.write_str("multicast and broadcast addresses are refused by default"),
            RefusalReason::OwnListener(listener) => {
                write!(f, "it is this node's own listener {listener}")
            }
            RefusalReason::Denied(net) => write!(f, "it is in the range {net} of `--sink-deny`"),
        }
    }
}

/// A destination the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the destination {} is refused: {reason}{}", shown(.address, .port), hint(.reason, .address))]
pub struct DestinationRefused {
    pub address: IpAddr,
    /// The port, when known.
    pub port: Option<u16>,
    pub reason: RefusalReason,
}

fn shown(address: &IpAddr, port: &Option<u16>) -> String {
    match port {
        Some(port) => SocketAddr::new(*address, *port).to_string(),
        None => address.to_string(),
    }
}

fn hint(reason: &RefusalReason, address: &IpAddr) -> String {
    match reason {
        RefusalReason::OwnListener(_) => String::new(),
        _ => format!(
            " (start the node with `--sink-allow {}` to allow it)",
            IpNet::from(*address)
        ),
    }
}

/// The destination policy of a node: the defaults, the operator's rules and
/// the node's own listeners.
///
/// Refused: the node's own listeners (by port, on loopback, unspecified or
/// one of this host's addresses) always; by default link-local, cloud
/// metadata, unspecified, multicast and broadcast addresses, and the
/// `deny` ranges. An `allow` range lifts the defaults and `deny` for the
/// addresses it names. Loopback and private ranges are allowed by default.
#[derive(Debug, Clone, Default)]
pub struct DestinationPolicy {
    rules: DestinationRules,
    own_listeners: Vec<SocketAddr>,
}

/// Cloud metadata services outside link-local (AWS over IPv6).
const METADATA: [IpAddr; 1] = [IpAddr::V6(Ipv6Addr::new(
    0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254,
))];

impl DestinationPolicy {
    pub fn new(rules: DestinationRules, own_listeners: Vec<SocketAddr>) -> Self {
        Self {
            rules,
            own_listeners,
        }
    }

    /// The policy of a node whose API listens on `api` and whose gRPC
    /// protocol, if served, on `grpc`.
    pub fn for_node(rules: &DestinationRules, api: SocketAddr, grpc: Option<SocketAddr>) -> Self {
        Self::new(rules.clone(), std::iter::once(api).chain(grpc).collect())
    }

    /// The node's own listeners this policy protects.
    pub fn own_listeners(&self) -> &[SocketAddr] {
        &self.own_listeners
    }

    /// Checks one resolved address; `port` is `None` when it is not known
    /// (then only the ranges are checked).
    pub fn check(&self, address: IpAddr, port: Option<u16>) -> Result<(), DestinationRefused> {
        let address = address.to_canonical();
        let refuse = |reason| DestinationRefused {
            address,
            port,
            reason,
        };
        if let Some(port) = port {
            if let Some(listener) = self.own_listener(address, port) {
                return Err(refuse(RefusalReason::OwnListener(listener)));
            }
        }
        if self.rules.allow.iter().any(|net| net.contains(&address)) {
            return Ok(());
        }
        if let Some(net) = self.rules.deny.iter().find(|net| net.contains(&address)) {
            return Err(refuse(RefusalReason::Denied(*net)));
        }
        match default_refusal(address) {
            Some(reason) => Err(refuse(reason)),
            None => Ok(()),
        }
    }

    /// The own listener `address:port` reaches, if any.
    fn own_listener(&self, address: IpAddr, port: u16) -> Option<SocketAddr> {
        self.own_listeners.iter().copied().find(|listener| {
            listener.port() == port
                && (address.is_loopback()
                    || address.is_unspecified()
                    || address == listener.ip().to_canonical()
                    || (listener.ip().is_unspecified() && is_local_address(address)))
        })
    }
}

/// What the defaults refuse `address` for, if anything.
fn default_refusal(address: IpAddr) -> Option<RefusalReason> {
    if METADATA.contains(&address) {
        return Some(RefusalReason::CloudMetadata);
    }
    match address {
        IpAddr::V4(v4) => {
            if v4.is_link_local() {
                Some(RefusalReason::LinkLocal)
            } else if v4.octets()[0] == 0 {
                Some(RefusalReason::Unspecified)
            } else if v4.is_multicast() || v4 == Ipv4Addr::BROADCAST {
                Some(RefusalReason::Multicast)
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_unicast_link_local() {
                Some(RefusalReason::LinkLocal)
            } else if v6.is_unspecified() {
                Some(RefusalReason::Unspecified)
            } else if v6.is_multicast() {
                Some(RefusalReason::Multicast)
            } else {
                None
            }
        }
    }
}

/// Whether `address` belongs to this host: only a local address can be
/// bound (no packet is sent).
fn is_local_address(address: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(address, 0)).is_ok()
}

/// Parses a CIDR range or a single address (`10.0.0.0/8`, `::1`,
/// `169.254.169.254`), for the command line.
pub fn parse_range(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(address) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(address));
    }
    Err(format!(
        "`{text}` is not a CIDR range or an IP address, e.g. `10.0.0.0/8` or `fd00::/8`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn rules(allow: &[&str], deny: &[&str]) -> DestinationRules {
        DestinationRules {
            allow: allow.iter().map(|r| parse_range(r).unwrap()).collect(),
            deny: deny.iter().map(|r| parse_range(r).unwrap()).collect(),
        }
    }

    #[test]
    fn ranges_parse_as_cidr_or_single_addresses() {
        assert_eq!(parse_range("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_range(" ::1 ").unwrap().to_string(), "::1/128");
        assert_eq!(
            parse_range("169.254.169.254").unwrap().to_string(),
            "169.254.169.254/32"
        );
        let error = parse_range("10.0.0.0/33").unwrap_err();
        assert!(error.contains("e.g. `10.0.0.0/8`"), "{error}");
        assert!(parse_range("example.com").is_err());
    }

    #[test]
    fn defaults_refuse_link_local_metadata_unspecified_and_multicast() {
        let policy = DestinationPolicy::default();
        let refused = |a: &str| policy.check(ip(a), Some(80)).unwrap_err().reason;
        assert_eq!(refused("169.254.169.254"), RefusalReason::LinkLocal);
        assert_eq!(refused("fe80::1"), RefusalReason::LinkLocal);
        assert_eq!(refused("::ffff:169.254.169.254"), RefusalReason::LinkLocal);
        assert_eq!(refused("fd00:ec2::254"), RefusalReason::CloudMetadata);
        assert_eq!(refused("0.0.0.0"), RefusalReason::Unspecified);
        assert_eq!(refused("::"), RefusalReason::Unspecified);
        assert_eq!(refused("224.0.0.1"), RefusalReason::Multicast);
        assert_eq!(refused("255.255.255.255"), RefusalReason::Multicast);
        assert_eq!(refused("ff02::1"), RefusalReason::Multicast);
    }

    #[test]
    fn defaults_allow_loopback_private_and_public_addresses() {
        let policy = DestinationPolicy::default();
        for a in [
            "127.0.0.1",
            "::1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "fd12::1",
            "93.184.216.34",
        ] {
            assert_eq!(policy.check(ip(a), Some(443)), Ok(()), "{a}");
        }
    }

    #[test]
    fn deny_ranges_are_refused_and_allow_wins_over_deny_and_defaults() {
        let policy = DestinationPolicy::new(
            rules(&["10.9.0.0/16", "169.254.10.0/24"], &["10.0.0.0/8"]),
            vec![],
        );
        let error = policy.check(ip("10.1.1.1"), Some(80)).unwrap_err();
        assert_eq!(
            error.reason,
            RefusalReason::Denied(parse_range("10.0.0.0/8").unwrap())
        );
        assert!(
            error.to_string().contains("`--sink-allow 10.1.1.1/32`"),
            "{error}"
        );
        assert_eq!(policy.check(ip("10.9.1.1"), Some(80)), Ok(()));
        assert_eq!(policy.check(ip("169.254.10.7"), Some(80)), Ok(()));
        assert!(policy.check(ip("169.254.169.254"), Some(80)).is_err());
    }

    #[test]
    fn own_listeners_are_refused_on_their_port_even_when_allowed() {
        let api: SocketAddr = "127.0.0.1:2119".parse().unwrap();
        let policy = DestinationPolicy::new(rules(&["127.0.0.0/8"], &[]), vec![api]);
        for a in [
            "127.0.0.1",
            "127.0.0.2",
            "::1",
            "0.0.0.0",
            "::ffff:127.0.0.1",
        ] {
            let error = policy.check(ip(a), Some(2119)).unwrap_err();
            assert_eq!(error.reason, RefusalReason::OwnListener(api), "{a}");
            assert!(error.to_string().contains("own listener 127.0.0.1:2119"));
        }
        assert_eq!(policy.check(ip("127.0.0.1"), Some(8080)), Ok(()));
        assert_eq!(policy.check(ip("127.0.0.1"), None), Ok(()));
        assert_eq!(policy.check(ip("10.0.0.1"), Some(2119)), Ok(()));
    }

    #[test]
    fn a_listener_on_every_interface_covers_this_hosts_addresses() {
        let any: SocketAddr = "0.0.0.0:2113".parse().unwrap();
        let policy = DestinationPolicy::new(DestinationRules::default(), vec![any]);
        assert!(policy.check(ip("127.0.0.1"), Some(2113)).is_err());
        // Documentation addresses belong to no host.
        assert_eq!(policy.check(ip("192.0.2.1"), Some(2113)), Ok(()));
    }
}
