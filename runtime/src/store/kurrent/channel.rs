//! The channel of the calls this backend makes itself (multi-stream
//! appends), beside the official client's own: to the node the connection
//! string names, or for a cluster (several hosts, or `+discover`) to the
//! leader that `Gossip.Read` on those hosts reports. Cleartext or TLS as the
//! settings say (TLS trusts `tlsCaFile` when given, else the system's
//! roots); basic credentials from the connection string go in the
//! `authorization` header of each call.
//!
//! The channel is made once and kept; a call that finds no connection
//! [`V2Channel::forget`]s it, so the next one looks for the leader again.

use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use kurrentdb::{ClientSettings, Endpoint};
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use super::protocol::event_store::client::Empty;
use super::protocol::gossip::gossip_client::GossipClient;
use super::protocol::gossip::member_info::VNodeState;
use crate::store::StoreError;

/// How long connecting to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A lazily made channel to the node that takes writes.
pub(super) struct V2Channel {
    settings: ClientSettings,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
    current: Mutex<Option<Channel>>,
}

impl V2Channel {
    /// `credentials` are the connection string's `user:password`, if any.
    pub fn new(
        settings: ClientSettings,
        credentials: Option<(String, String)>,
    ) -> Result<Self, StoreError> {
        let authorization = match credentials {
            Some((user, password)) => {
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                Some(
                    MetadataValue::try_from(format!("Basic {encoded}")).map_err(|_| {
                        StoreError::InvalidRequest(
                            "the credentials of the connection string cannot be sent".into(),
                        )
                    })?,
                )
            }
            None => None,
        };
        Ok(Self {
            settings,
            authorization,
            current: Mutex::new(None),
        })
    }

    /// The `authorization` header value, if the connection string has
    /// credentials.
    pub fn authorization(&self) -> Option<&MetadataValue<tonic::metadata::Ascii>> {
        self.authorization.as_ref()
    }

    /// The channel to the leader, made (and the leader found) if needed.
    pub async fn channel(&self) -> Result<Channel, StoreError> {
        if let Some(channel) = self.lock().clone() {
            return Ok(channel);
        }
        let leader = self.find_leader().await?;
        let channel = self.endpoint(&leader)?.connect_lazy();
        *self.lock() = Some(channel.clone());
        Ok(channel)
    }

    /// Drops the channel (the connection failed), so the next call makes a
    /// new one.
    pub fn forget(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Channel>> {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn endpoint(&self, node: &Endpoint) -> Result<tonic::transport::Endpoint, StoreError> {
        let uri = self.settings.to_uri(node);
        let endpoint = tonic::transport::Endpoint::from(uri).connect_timeout(CONNECT_TIMEOUT);
        if !self.settings.is_secure_mode_enabled() {
            return Ok(endpoint);
        }
        if !self.settings.is_tls_certificate_verification_enabled() {
            return Err(StoreError::Unsupported(
                "multi-stream appends need a verified TLS certificate: remove \
                 `tlsVerifyCert=false` and name the node's CA with `tlsCaFile`"
                    .into(),
            ));
        }
        let mut tls = ClientTlsConfig::new().domain_name(node.host.clone());
        tls = match self.settings.tls_ca_file() {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    StoreError::InvalidRequest(format!("cannot read `tlsCaFile` {path}: {e}"))
                })?;
                tls.ca_certificate(Certificate::from_pem(pem))
            }
            None => tls.with_native_roots(),
        };
        endpoint.tls_config(tls).map_err(|e| {
            StoreError::InvalidRequest(format!("cannot use TLS towards {}: {e}", node.host))
        })
    }

    /// The node to write to: the only host given, or the alive leader that
    /// the first host answering `Gossip.Read` knows.
    async fn find_leader(&self) -> Result<Endpoint, StoreError> {
        let hosts = self.settings.hosts();
        let cluster = hosts.len() > 1 || self.settings.is_dns_discovery_enabled();
        let Some(first) = hosts.first() else {
            return Err(StoreError::InvalidRequest(
                "the connection string names no host".into(),
            ));
        };
        if !cluster {
            return Ok(first.clone());
        }
        let mut last_error = String::from("no host answered");
        for host in hosts {
            match self.leader_known_to(host).await {
                Ok(Some(leader)) => return Ok(leader),
                Ok(None) => last_error = format!("{}:{} knows no leader", host.host, host.port),
                Err(e) => last_error = format!("{}:{}: {e}", host.host, host.port),
            }
        }
        Err(StoreError::Unavailable(format!(
            "cannot find the cluster's leader: {last_error}"
        )))
    }

    async fn leader_known_to(&self, host: &Endpoint) -> Result<Option<Endpoint>, StoreError> {
        let channel = self
            .endpoint(host)?
            .timeout(self.settings.gossip_timeout())
            .connect()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let members = GossipClient::new(channel)
            .read(Empty {})
            .await
            .map_err(|e| StoreError::Unavailable(e.message().to_owned()))?
            .into_inner()
            .members;
        Ok(members
            .into_iter()
            .find(|m| m.is_alive && m.state == VNodeState::Leader as i32)
            .and_then(|m| m.http_end_point)
            .map(|end_point| Endpoint {
                host: end_point.address,
                port: end_point.port,
            }))
    }
}
