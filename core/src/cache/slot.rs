//! One cached entry as stored in the map.

use crate::sync::AtomicU32;
use crate::time::Nanos;

/// A cached entry. Immutable once published except for `generation`, which a
/// reader raises after checking the entry against pending invalidations (see
/// `invalidation.rs`).
#[derive(Debug)]
pub(super) struct Slot<K, V> {
    pub(super) key: K,
    /// `None` is a cached "not found" (negative caching).
    pub(super) value: Option<V>,
    /// Past this instant the entry may be refreshed (soft TTL).
    pub(super) stale_at: Nanos,
    /// At or past this instant the entry is never returned (hard TTL).
    pub(super) expires_at: Nanos,
    pub(super) generation: AtomicU32,
    /// The policy epoch of this entry's last reported hit (`hit_filter.rs`).
    pub(super) reported: AtomicU32,
}

/// How fresh an entry is at a given instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Freshness {
    /// Before the soft deadline.
    Fresh,
    /// Between the soft and the hard deadline: servable, due for a refresh.
    Stale,
    /// At or past the hard deadline: never served.
    Expired,
}

impl<K, V> Slot<K, V> {
    pub(super) fn new(
        key: K,
        value: Option<V>,
        stale_at: Nanos,
        expires_at: Nanos,
        generation: u32,
        reported: u32,
    ) -> Self {
        Slot {
            key,
            value,
            stale_at: stale_at.min(expires_at),
            expires_at,
            generation: AtomicU32::new(generation),
            reported: AtomicU32::new(reported),
        }
    }

    /// Whether the entry ever needs the clock read.
    #[inline]
    pub(super) fn has_deadline(&self) -> bool {
        self.stale_at != Nanos::MAX
    }

    #[inline]
    pub(super) fn freshness(&self, now: Nanos) -> Freshness {
        if now >= self.expires_at {
            Freshness::Expired
        } else if now >= self.stale_at {
            Freshness::Stale
        } else {
            Freshness::Fresh
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(not(loom))]
    fn a_u64_slot_is_48_bytes() {
        // The figure the cache's `# Memory` section gives.
        assert_eq!(core::mem::size_of::<Slot<u64, u64>>(), 48);
    }

    #[test]
    fn freshness_follows_the_two_deadlines() {
        let s = Slot::new(1u8, Some(2u8), Nanos::new(10), Nanos::new(20), 0, 0);
        assert_eq!(s.freshness(Nanos::new(9)), Freshness::Fresh);
        assert_eq!(s.freshness(Nanos::new(10)), Freshness::Stale);
        assert_eq!(s.freshness(Nanos::new(20)), Freshness::Expired);
        let never = Slot::new(1u8, Some(2u8), Nanos::MAX, Nanos::MAX, 0, 0);
        assert!(!never.has_deadline());
    }
}
