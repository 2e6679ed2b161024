//! The memory limit of a component as a whole: every linear memory and
//! table of the store counts against one budget, so a component with
//! several memories gets no more than one with a single memory.

use wasmtime::{ResourceLimiter, Result};

/// How many bytes Wasmtime keeps per table element (a pointer).
const TABLE_ELEMENT_BYTES: usize = std::mem::size_of::<usize>();

/// Counts the store's memories and tables against `limit_bytes`. A growth
/// past the limit traps (with a message naming the limit).
#[derive(Debug)]
pub(super) struct TotalLimiter {
    limit_bytes: usize,
    /// Bytes of all memories plus table elements granted so far.
    used_bytes: usize,
    /// The last growth granted, given back if the growth then fails.
    last_grant: usize,
}

/// Most instances, tables and memories one store may create.
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 16;

impl TotalLimiter {
    pub fn new(limit_bytes: usize) -> Self {
        Self {
            limit_bytes,
            used_bytes: 0,
            last_grant: 0,
        }
    }

    fn grow(&mut self, what: &str, current: usize, desired: usize) -> Result<bool> {
        let extra = desired.saturating_sub(current);
        let total = self.used_bytes.saturating_add(extra);
        if total > self.limit_bytes {
            wasmtime::bail!(
                "growing {what} to {desired} bytes would bring the component's memories and tables to {total} bytes, over its limit of {} bytes (`limits.memoryMib`)",
                self.limit_bytes
            );
        }
        self.used_bytes = total;
        self.last_grant = extra;
        Ok(true)
    }

    fn give_back(&mut self) {
        self.used_bytes = self.used_bytes.saturating_sub(self.last_grant);
        self.last_grant = 0;
    }
}

impl ResourceLimiter for TotalLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        self.grow("memory", current, desired)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> Result<()> {
        self.give_back();
        Err(error.context("growing memory failed"))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        self.grow(
            "a table",
            current.saturating_mul(TABLE_ELEMENT_BYTES),
            desired.saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> Result<()> {
        self.give_back();
        Err(error.context("growing a table failed"))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn memories_are_counted_together_against_one_limit() {
        let mut limiter = TotalLimiter::new(64 * MIB);
        assert!(limiter.memory_growing(0, 40 * MIB, None).unwrap());
        let error = limiter.memory_growing(0, 40 * MIB, None).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("growing memory"), "{text}");
        assert!(text.contains("over its limit of 67108864 bytes"), "{text}");
        // Growing the first memory within what is left still works.
        assert!(limiter.memory_growing(40 * MIB, 60 * MIB, None).unwrap());
        assert!(limiter.memory_growing(60 * MIB, 65 * MIB, None).is_err());
    }

    #[test]
    fn a_failed_growth_gives_its_bytes_back() {
        let mut limiter = TotalLimiter::new(10 * MIB);
        assert!(limiter.memory_growing(0, 8 * MIB, None).unwrap());
        assert!(limiter
            .memory_grow_failed(wasmtime::Error::msg("no memory"))
            .is_err());
        assert!(limiter.memory_growing(0, 9 * MIB, None).unwrap());
    }

    #[test]
    fn tables_count_by_element_size_and_maximums_still_apply() {
        let mut limiter = TotalLimiter::new(MIB);
        assert!(!limiter.table_growing(0, 10, Some(5)).unwrap());
        assert!(limiter.table_growing(0, 1000, None).unwrap());
        assert!(limiter
            .table_growing(1000, MIB / TABLE_ELEMENT_BYTES + 1, None)
            .is_err());
    }
}
