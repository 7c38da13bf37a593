//! Configuring a [`BreakerRegistry`]: the builder and its typed error.

use core::fmt;
use core::hash::Hash;
use core::time::Duration;
use std::collections::HashMap;

use super::{BreakerRegistry, Hasher};
use crate::breaker::Config;
use crate::sync::{CachePadded, RwLock};
use crate::time::{Clock, Nanos};

/// Why a registry configuration was refused.
///
/// ```
/// use brace::breaker::registry::{BreakerRegistry, RegistryConfigError};
/// use brace::breaker::Config;
/// use brace::time::ManualClock;
///
/// let err = BreakerRegistry::builder(Config::default())
///     .capacity(0)
///     .build::<String, _>(ManualClock::new())
///     .unwrap_err();
/// assert_eq!(err, RegistryConfigError::ZeroCapacity);
/// assert_eq!(err.field(), "capacity");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryConfigError {
    /// `capacity` was zero: the registry could hold no breaker.
    ZeroCapacity,
    /// `idle_after` was zero: every breaker would count as idle at once.
    ZeroIdleAfter,
}

impl RegistryConfigError {
    /// The name of the builder field that was refused.
    pub fn field(&self) -> &'static str {
        match self {
            RegistryConfigError::ZeroCapacity => "capacity",
            RegistryConfigError::ZeroIdleAfter => "idle_after",
        }
    }
}

impl fmt::Display for RegistryConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryConfigError::ZeroCapacity => f.write_str("capacity must be at least 1 breaker"),
            RegistryConfigError::ZeroIdleAfter => {
                f.write_str("idle_after must be longer than zero")
            }
        }
    }
}

impl std::error::Error for RegistryConfigError {}

/// Builds a [`BreakerRegistry`]; see [`BreakerRegistry::builder`].
///
/// ```
/// use brace::breaker::registry::BreakerRegistry;
/// use brace::breaker::Config;
/// use brace::time::SystemClock;
/// use std::time::Duration;
///
/// let per_tenant = BreakerRegistry::builder(Config::default())
///     .capacity(50_000)
///     .idle_after(Duration::from_secs(15 * 60))
///     .build::<u64, _>(SystemClock::new())?;
/// assert!(per_tenant.capacity() <= 50_000);
/// # Ok::<(), brace::breaker::registry::RegistryConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RegistryBuilder {
    pub(super) config: Config,
    pub(super) capacity: usize,
    pub(super) idle_after: Duration,
}

impl RegistryBuilder {
    /// The most breakers kept at once (default 10,000).
    pub fn capacity(mut self, breakers: usize) -> Self {
        self.capacity = breakers;
        self
    }

    /// How long a key may go without lookups before its breaker may be
    /// dropped to make room (default 10 minutes).
    pub fn idle_after(mut self, idle: Duration) -> Self {
        self.idle_after = idle;
        self
    }

    /// The registry, reading time from `clock` (every breaker gets a clone).
    ///
    /// # Errors
    ///
    /// [`RegistryConfigError`] naming the field out of range.
    pub fn build<K, C>(self, clock: C) -> Result<BreakerRegistry<K, C>, RegistryConfigError>
    where
        K: Hash + Eq,
        C: Clock + Clone,
    {
        if self.capacity == 0 {
            return Err(RegistryConfigError::ZeroCapacity);
        }
        if self.idle_after.is_zero() {
            return Err(RegistryConfigError::ZeroIdleAfter);
        }
        // Up to 16 shards (a power of two), each holding at least 8
        // breakers when it can; the capacity is split among them exactly,
        // the first `capacity % shards` holding one more.
        let wanted = (self.capacity / 8).clamp(1, 16);
        let shards = if wanted.is_power_of_two() {
            wanted
        } else {
            wanted.next_power_of_two() / 2
        };
        let hasher = Hasher::new();
        let idle_after = Nanos::from_duration(self.idle_after);
        Ok(BreakerRegistry {
            shards: (0..shards)
                .map(|_| CachePadded::new(RwLock::new(HashMap::with_hasher(hasher.clone()))))
                .collect(),
            hasher,
            capacity: self.capacity,
            idle_after,
            stamp_every: (idle_after.as_u64() / 16).max(1),
            config: self.config,
            clock,
        })
    }
}
