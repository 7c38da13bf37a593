//! One breaker per key, from a registry.

use core::fmt;
use core::hash::Hash;
use std::sync::Arc;

use brace::breaker::registry::BreakerRegistry;
use brace::time::Clock;

use super::{CircuitOpen, SelectBreaker, TimedPermit};

/// Each request goes through the breaker of its key — host, route, tenant —
/// taken from a shared [`BreakerRegistry`] by `key_of(&request)`.
///
/// One failing key trips only its own breaker. Keep a clone of the registry
/// `Arc` to read or control a key's breaker while the service runs.
///
/// # Clone
///
/// Clones share the registry and clone the key function.
///
/// ```
/// use brace::breaker::registry::BreakerRegistry;
/// use brace::breaker::{Config, State};
/// use brace::time::ManualClock;
/// use brace_tower::circuit_breaker::{KeyedBreakers, SelectBreaker};
/// use std::sync::Arc;
///
/// let registry = Arc::new(BreakerRegistry::builder(Config::default()).build(ManualClock::new())?);
/// let by_host = KeyedBreakers::new(registry.clone(), |req: &(String, u32)| req.0.clone());
/// registry.force_open("db-1");
/// assert!(by_host.try_acquire(&("db-1".to_string(), 7)).is_err());
/// assert!(by_host.try_acquire(&("db-2".to_string(), 7)).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyedBreakers<K, F, C: Clock> {
    registry: Arc<BreakerRegistry<K, C>>,
    key_of: F,
}

impl<K, F, C: Clock> KeyedBreakers<K, F, C> {
    /// Breakers from `registry`, chosen by `key_of(&request)`.
    pub fn new(registry: Arc<BreakerRegistry<K, C>>, key_of: F) -> Self {
        KeyedBreakers { registry, key_of }
    }

    /// The registry.
    pub fn registry(&self) -> &Arc<BreakerRegistry<K, C>> {
        &self.registry
    }
}

impl<K, F: Clone, C: Clock> Clone for KeyedBreakers<K, F, C> {
    fn clone(&self) -> Self {
        KeyedBreakers {
            registry: Arc::clone(&self.registry),
            key_of: self.key_of.clone(),
        }
    }
}

impl<K, F, C: Clock> fmt::Debug for KeyedBreakers<K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBreakers")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl<Req, K, F, C> SelectBreaker<Req> for KeyedBreakers<K, F, C>
where
    K: Hash + Eq + Clone,
    F: Fn(&Req) -> K,
    C: Clock + Clone,
{
    type Permit = TimedPermit<C>;

    #[inline]
    fn try_acquire(&self, request: &Req) -> Result<TimedPermit<C>, CircuitOpen> {
        let key = (self.key_of)(request);
        TimedPermit::acquire(&self.registry.breaker(&key))
    }
}
