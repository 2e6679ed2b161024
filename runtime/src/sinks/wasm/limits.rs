//! Limits of a WebAssembly component's instance, as a connector's settings
//! give them for each stage (transforms and custom sinks alike).

use serde::{Deserialize, Serialize};

use crate::sinks::ConfigError;
use crate::wasm::StageLimits;

/// Limits of a WebAssembly component's instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsConfig {
    /// The most linear memory, in MiB (default 64).
    #[serde(default = "LimitsConfig::default_memory_mib")]
    pub memory_mib: u32,
    /// The longest one call may run, in milliseconds (default 5000).
    #[serde(default = "LimitsConfig::default_timeout_ms")]
    pub timeout_ms: u64,
}

impl LimitsConfig {
    fn default_memory_mib() -> u32 {
        64
    }
    fn default_timeout_ms() -> u64 {
        5000
    }

    pub fn validate(&self, field: &str) -> Result<(), ConfigError> {
        if !(1..=4096).contains(&self.memory_mib) {
            return Err(ConfigError::new(
                format!("{field}.memoryMib"),
                "must be between 1 and 4096, e.g. `64`",
            ));
        }
        if !(10..=600_000).contains(&self.timeout_ms) {
            return Err(ConfigError::new(
                format!("{field}.timeoutMs"),
                "must be between 10 and 600000, e.g. `5000`",
            ));
        }
        Ok(())
    }

    /// The host's limits for a stage with these settings.
    pub fn stage_limits(&self) -> StageLimits {
        StageLimits {
            memory_bytes: self.memory_mib as usize * 1024 * 1024,
            call_timeout: std::time::Duration::from_millis(self.timeout_ms),
            ..StageLimits::default()
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            memory_mib: Self::default_memory_mib(),
            timeout_ms: Self::default_timeout_ms(),
        }
    }
}
