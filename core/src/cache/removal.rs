//! Removal notifications: which entry left the cache, and why.
//!
//! The cache removes slots in a handful of places (a write that replaces or
//! evicts, `remove`, a read or sweep that finds a dead slot). Each collects
//! what it removed, releases every lock, settles each removed slot's cause,
//! then hands the slots to the listener one by one. The cause is the
//! site's, unless the slot was already dead when it left (expired, or
//! invalidated and not yet swept): then it is reported for its death, as
//! an expired entry evicted to make room left because it expired, not
//! because the cache was full. Every cause of one call is settled before
//! its first listener call, so a listener that invalidates or takes its
//! time cannot change how the next slot is reported. A read or sweep that
//! removes a slot because it found it dead reports the death it found.

use alloc::sync::Arc;

/// Why an entry left the cache, as told to a
/// [`removal_listener`](super::CacheBuilder::removal_listener).
///
/// ```
/// use brace::cache::RemovalCause;
///
/// assert!(RemovalCause::Size.was_evicted());
/// assert!(RemovalCause::Expired.was_evicted());
/// assert!(!RemovalCause::Removed.was_evicted());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// Evicted by the policy to keep the cache within `max_capacity`; this
    /// includes a new entry the policy declined to admit.
    Size,
    /// Past its hard TTL when it was removed.
    Expired,
    /// Invalidated by [`invalidate_all`](super::Cache::invalidate_all) or
    /// [`invalidate_if`](super::Cache::invalidate_if).
    Invalidated,
    /// Removed by [`remove`](super::Cache::remove), or by a refresh whose
    /// loader found the key gone
    /// ([`get_or_load_optional`](super::Cache::get_or_load_optional)
    /// returning `None` with no negative caching).
    Removed,
    /// Its value was replaced by a later write of the same key.
    Replaced,
}

impl RemovalCause {
    /// Whether the cache removed the entry on its own (to make room, or
    /// because it expired) rather than because of a call naming it or a
    /// newer value for its key.
    pub fn was_evicted(self) -> bool {
        matches!(self, RemovalCause::Size | RemovalCause::Expired)
    }
}

/// The listener as the cache keeps it.
pub(super) type RemovalListener<K, V> = Arc<dyn Fn(&K, &V, RemovalCause) + Send + Sync>;
