use serde::{Deserialize, Serialize};

use super::secrets::{self, ComponentSecrets};
use super::LimitsConfig;
use crate::modules::ModuleRef;
use crate::sinks::retry::RetryConfig;
use crate::sinks::{BatchLimits, ConfigError};

/// Settings of a custom sink component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WasmSinkConfig {
    /// The module: `name` (its latest upload) or `name@sha256:<hex>`.
    pub module: ModuleRef,
    /// Settings given to the component's `init`, any JSON object.
    #[serde(default)]
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Secret settings (strings), merged into `config` for `init`; stored
    /// encrypted and shown as `******`.
    #[serde(default, skip_serializing_if = "ComponentSecrets::is_empty")]
    pub secrets: ComponentSecrets,
    /// Hosts the component may send HTTP requests to: `host`, `host:port` or
    /// `*.domain`. Requests to any other host fail.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// How many events one call delivers.
    #[serde(default)]
    pub batch: WasmBatchConfig,
    /// Back-off for batches the component reports as retryable.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Limits of the component's instance.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// Batch shape of a custom sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WasmBatchConfig {
    /// Most events per call (default 100).
    #[serde(default = "WasmBatchConfig::default_max_events")]
    pub max_events: usize,
    /// Most data bytes per call (default 1 MiB).
    #[serde(default = "WasmBatchConfig::default_max_bytes")]
    pub max_bytes: usize,
    /// How long to wait for more events once a batch has one (default 10 ms).
    #[serde(default = "WasmBatchConfig::default_linger_ms")]
    pub linger_ms: u64,
}

impl WasmBatchConfig {
    fn default_max_events() -> usize {
        100
    }
    fn default_max_bytes() -> usize {
        1024 * 1024
    }
    fn default_linger_ms() -> u64 {
        10
    }

    pub fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: self.max_events,
            max_bytes: self.max_bytes,
            linger: std::time::Duration::from_millis(self.linger_ms),
        }
    }
}

impl Default for WasmBatchConfig {
    fn default() -> Self {
        Self {
            max_events: Self::default_max_events(),
            max_bytes: Self::default_max_bytes(),
            linger_ms: Self::default_linger_ms(),
        }
    }
}

fn valid_host_entry(entry: &str) -> bool {
    let (host, port) = match entry.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (entry, None),
    };
    let host = host.strip_prefix("*.").unwrap_or(host);
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

impl WasmSinkConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, entry) in self.allow_hosts.iter().enumerate() {
            if !valid_host_entry(entry) {
                return Err(ConfigError::new(
                    format!("sink.allowHosts[{i}]"),
                    format!("`{entry}` is not a host: use `host`, `host:port` or `*.domain`, without scheme or path, e.g. `hooks.example.com` or `127.0.0.1:8080`"),
                ));
            }
        }
        if self.batch.max_events == 0 || self.batch.max_events > 10_000 {
            return Err(ConfigError::new(
                "sink.batch.maxEvents",
                "must be between 1 and 10000, e.g. `100`",
            ));
        }
        if self.batch.max_bytes < 1024 {
            return Err(ConfigError::new(
                "sink.batch.maxBytes",
                "must be at least 1024, e.g. `1048576`",
            ));
        }
        self.retry.validate("sink.retry")?;
        secrets::validate_secrets("sink", &self.config, &self.secrets)?;
        self.limits.validate("sink.limits")
    }

    /// What the secrets are for: the module and the hosts it may reach.
    pub fn destination(&self) -> String {
        let mut hosts = self.allow_hosts.clone();
        hosts.sort();
        hosts.dedup();
        format!(
            "module {} allowed to reach [{}]",
            self.module.name(),
            hosts.join(", ")
        )
    }

    /// Fills secrets given as `******` from `previous` when the destination
    /// is unchanged (see [`secrets::keep_redacted`]).
    pub fn keep_secrets_from(&mut self, previous: &WasmSinkConfig) -> Result<(), ConfigError> {
        let destination = self.destination();
        secrets::keep_redacted(
            "sink",
            &mut self.secrets,
            &previous.secrets,
            &destination,
            &previous.destination(),
        )
    }
}
