//! HTTP clients that obey a [`DestinationPolicy`] at connect time.
//!
//! Host names go through [`PolicyResolver`], which resolves them and keeps
//! only the addresses the policy allows, so a name that resolves (or is
//! rebound) to a refused address never gets a connection. IP literals never
//! reach a resolver, so [`send`] checks them before sending. Redirects are
//! not followed: each hop would be a new destination. Own-listener rules
//! need the port, which a resolver is not told: [`send`] passes it down in a
//! task-local while the request connects.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{RequestBuilder, Response, Url};

use super::policy::{DestinationPolicy, DestinationRefused};

tokio::task_local! {
    /// The port of the request being connected.
    static DESTINATION_PORT: u16;
}

/// Resolves host names and drops the addresses the policy refuses.
pub struct PolicyResolver {
    policy: Arc<DestinationPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        // Read now: the connect future is first polled inside `send`.
        let port = DESTINATION_PORT.try_with(|p| *p).ok();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), port.unwrap_or(0)))
                    .await?
                    .collect();
            let mut refusals = Vec::new();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check(a.ip(), port) {
                    Ok(()) => true,
                    Err(refused) => {
                        refusals.push(refused);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                if let Some(refused) = refusals.into_iter().next() {
                    tracing::warn!(%host, error = %refused, "outgoing connection refused");
                    return Err(Box::new(NameRefused { host, refused }) as _);
                }
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// A host name whose every address the policy refuses.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{host}` resolves to a refused address: {refused}")]
pub struct NameRefused {
    pub host: String,
    #[source]
    pub refused: DestinationRefused,
}

/// A client builder that resolves through the policy and follows no
/// redirects; callers add their own timeouts.
pub fn client_builder(policy: &Arc<DestinationPolicy>) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(PolicyResolver {
            policy: Arc::clone(policy),
        }))
        .redirect(reqwest::redirect::Policy::none())
}

/// Why [`send`] did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The policy refused the destination (an IP literal or a resolved name).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// Sends `request` (built by a client from [`client_builder`]) to `url`,
/// checking IP literals first and telling the resolver the port.
pub async fn send(
    policy: &DestinationPolicy,
    url: &Url,
    request: RequestBuilder,
) -> Result<Response, SendError> {
    check_literal(policy, url).map_err(|e| SendError::Refused(e.to_string()))?;
    let port = url.port_or_known_default().unwrap_or(0);
    match DESTINATION_PORT.scope(port, request.send()).await {
        Ok(response) => Ok(response),
        Err(error) => match refusal(&error) {
            Some(reason) => Err(SendError::Refused(reason)),
            None => Err(SendError::Http(error)),
        },
    }
}

/// Checks `url`'s host when it is an IP literal (names are checked when
/// they are resolved).
pub fn check_literal(policy: &DestinationPolicy, url: &Url) -> Result<(), DestinationRefused> {
    let address: IpAddr = match url.host() {
        Some(url::Host::Ipv4(v4)) => v4.into(),
        Some(url::Host::Ipv6(v6)) => v6.into(),
        _ => return Ok(()),
    };
    policy.check(address, url.port_or_known_default())
}

/// The policy's refusal somewhere in `error`'s causes, as one line.
fn refusal(error: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(refused) = current.downcast_ref::<NameRefused>() {
            return Some(refused.to_string());
        }
        cause = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::policy::{parse_range, DestinationRules};

    fn policy(deny: &[&str], own: &[&str]) -> Arc<DestinationPolicy> {
        Arc::new(DestinationPolicy::new(
            DestinationRules {
                allow: vec![],
                deny: deny.iter().map(|r| parse_range(r).unwrap()).collect(),
            },
            own.iter().map(|a| a.parse().unwrap()).collect(),
        ))
    }

    #[tokio::test]
    async fn a_name_resolving_only_to_refused_addresses_is_not_connected() {
        let policy = policy(&["127.0.0.0/8", "::1/128"], &[]);
        let client = client_builder(&policy).build().unwrap();
        let url = Url::parse("http://localhost:9/hook").unwrap();
        let error = send(&policy, &url, client.get(url.clone()))
            .await
            .unwrap_err();
        let reason = match error {
            SendError::Refused(reason) => reason,
            other => panic!("expected a refusal, got {other}"),
        };
        assert!(
            reason.contains("`localhost` resolves to a refused address"),
            "{reason}"
        );
        assert!(reason.contains("--sink-deny"), "{reason}");
    }

    #[tokio::test]
    async fn a_name_reaching_an_own_listener_is_not_connected() {
        let policy = policy(&[], &["127.0.0.1:2119"]);
        let client = client_builder(&policy).build().unwrap();
        let url = Url::parse("http://localhost:2119/connectors").unwrap();
        let error = send(&policy, &url, client.get(url.clone()))
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("own listener 127.0.0.1:2119"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn literal_addresses_are_checked_before_sending() {
        let policy = policy(&[], &[]);
        let client = client_builder(&policy).build().unwrap();
        let url = Url::parse("http://169.254.169.254/latest/meta-data").unwrap();
        let error = send(&policy, &url, client.get(url.clone()))
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the destination 169.254.169.254:80 is refused: link-local"),
            "{error}"
        );
    }
}
