//! Which `Host` headers a loopback listener answers: a web page that
//! rebinds its own name to 127.0.0.1 (DNS rebinding) still sends its own
//! name as the host, so anything but a loopback name or address is refused.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether `host` (a `Host` header or URI authority, with or without a
/// port) names this machine's loopback interface: `localhost`,
/// `*.localhost`, `127.x.x.x` or `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        let Some((address, after)) = rest.split_once(']') else {
            return false;
        };
        if !(after.is_empty() || is_port(after.strip_prefix(':').unwrap_or("x"))) {
            return false;
        }
        return address.parse::<Ipv6Addr>().is_ok_and(|ip| {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        });
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if is_port(port) => name,
        Some(_) => return false,
        None => host,
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name == "localhost" || (name.ends_with(".localhost") && name.len() > ".localhost".len()) {
        return true;
    }
    name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_names_and_addresses_are_accepted() {
        for host in [
            "localhost",
            "localhost:2119",
            "LOCALHOST",
            "localhost.",
            "api.localhost:80",
            "127.0.0.1",
            "127.0.0.1:2119",
            "127.1.2.3:8080",
            "[::1]",
            "[::1]:2119",
            "[::ffff:127.0.0.1]:2119",
        ] {
            assert!(is_loopback_host(host), "{host} is loopback");
        }
    }

    #[test]
    fn other_names_and_addresses_are_refused() {
        for host in [
            "evil.example",
            "evil.example:2119",
            "localhost.evil.example",
            "evillocalhost",
            ".localhost",
            "10.0.0.1:2119",
            "0.0.0.0:2119",
            "128.0.0.1",
            "[::2]:2119",
            "[::1]x",
            "::1",
            "localhost:notaport",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host} is not loopback");
        }
    }
}
