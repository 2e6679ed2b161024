//! Which member of a gossip answer is the attached node, and how nodes
//! and answers are named in messages.

use kurrentdb::Endpoint;

use crate::store::kurrent::protocol::gossip::member_info::VNodeState;
use crate::store::kurrent::protocol::gossip::MemberInfo;

/// The member that is `node`: the only one, else the one advertising its
/// host (any case) and port, else one whose address resolves to one of
/// `node`'s.
pub(super) async fn attached_member<'a>(
    members: &'a [MemberInfo],
    node: &Endpoint,
) -> Option<&'a MemberInfo> {
    if let [only] = members {
        return Some(only);
    }
    if let Some(member) = members.iter().find(|m| advertises(m, node)) {
        return Some(member);
    }
    let node_addresses = resolve(node).await;
    if node_addresses.is_empty() {
        return None;
    }
    for member in members {
        let Some(end_point) = &member.http_end_point else {
            continue;
        };
        let member_node = Endpoint {
            host: end_point.address.clone(),
            port: end_point.port,
        };
        let addresses = resolve(&member_node).await;
        if addresses.iter().any(|a| node_addresses.contains(a)) {
            return Some(member);
        }
    }
    None
}

/// Whether `member` advertises exactly `node` (host names without regard
/// to case, IPv6 with or without brackets).
fn advertises(member: &MemberInfo, node: &Endpoint) -> bool {
    member.http_end_point.as_ref().is_some_and(|end_point| {
        end_point.port == node.port
            && unbracketed(&end_point.address).eq_ignore_ascii_case(unbracketed(&node.host))
    })
}

/// The socket addresses `node` resolves to (none when it does not).
async fn resolve(node: &Endpoint) -> Vec<std::net::SocketAddr> {
    let Ok(port) = u16::try_from(node.port) else {
        return Vec::new();
    };
    match tokio::net::lookup_host((unbracketed(&node.host), port)).await {
        Ok(addresses) => addresses.collect(),
        Err(_) => Vec::new(),
    }
}

pub(super) fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `host:port`, IPv6 addresses in brackets.
pub(super) fn display(node: &Endpoint) -> String {
    let host = unbracketed(&node.host);
    if host.contains(':') {
        format!("[{host}]:{}", node.port)
    } else {
        format!("{host}:{}", node.port)
    }
}

/// The members' endpoints and states, for an error message.
pub(super) fn listed(members: &[MemberInfo]) -> String {
    if members.is_empty() {
        return "no member".to_owned();
    }
    members
        .iter()
        .map(|member| {
            let at = member.http_end_point.as_ref().map_or_else(
                || "no address".to_owned(),
                |e| {
                    display(&Endpoint {
                        host: e.address.clone(),
                        port: e.port,
                    })
                },
            );
            let state = VNodeState::try_from(member.state)
                .map_or_else(|_| member.state.to_string(), |s| s.as_str_name().to_owned());
            format!("{at} ({state})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
