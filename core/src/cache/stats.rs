//! Cache statistics: striped counters, summed on read.

use crate::sync::{AtomicU64, CachePadded, Ordering};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// A snapshot of a cache's counters since it was built.
///
/// Counters are updated with relaxed atomics on per-thread stripes, so a
/// snapshot taken while other threads work is a consistent-enough sum, not
/// an instant.
///
/// ```
/// use brace::cache::Cache;
///
/// let cache = Cache::<u32, u32>::builder().max_capacity(10).build()?;
/// cache.insert(1, 10);
/// assert_eq!(cache.get(&1), Some(10));
/// assert_eq!(cache.get(&2), None);
/// let stats = cache.stats();
/// assert_eq!((stats.hits, stats.misses), (1, 1));
/// assert_eq!(stats.hit_ratio(), 0.5);
/// # Ok::<(), brace::cache::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads that found a live entry (a stale value served and a cached
    /// "not found" count here too).
    pub hits: u64,
    /// Reads that found nothing live.
    pub misses: u64,
    /// Loader runs started by `get_or_load` (one per coalesced group).
    pub loads: u64,
    /// Loader runs that returned an error or panicked.
    pub load_errors: u64,
    /// Entries removed to stay within capacity (including new entries the
    /// policy declined to admit).
    pub evictions: u64,
    /// Reads answered with a value past its soft TTL.
    pub stale_served: u64,
    /// Callers of a loading read (`get_or_load`, `get_with` and their
    /// kin) that joined a load another caller was running instead of
    /// running their own; counted when they join.
    pub coalesced: u64,
}

impl CacheStats {
    /// `hits / (hits + misses)`, or 0 before any read.
    pub fn hit_ratio(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 {
            0.0
        } else {
            self.hits as f64 / reads as f64
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Counter {
    Hit,
    Miss,
    Load,
    LoadError,
    Eviction,
    StaleServed,
}

const COUNTERS: usize = 6;

#[derive(Debug)]
pub(super) struct Stats {
    stripes: Box<[CachePadded<[AtomicU64; COUNTERS]>]>,
}

impl Stats {
    pub(super) fn new() -> Self {
        let count = crate::sync::stripe_count();
        let stripes: Vec<_> = (0..count)
            .map(|_| CachePadded::new(core::array::from_fn(|_| AtomicU64::new(0))))
            .collect();
        Stats {
            stripes: stripes.into_boxed_slice(),
        }
    }

    #[inline]
    pub(super) fn add(&self, counter: Counter, n: u64) {
        self.add_as(crate::sync::thread_index(), counter, n);
    }

    /// [`add`](Self::add) by the thread whose `thread_index` is `thread`.
    #[inline]
    pub(super) fn add_as(&self, thread: usize, counter: Counter, n: u64) {
        let stripe = &self.stripes[thread & (self.stripes.len() - 1)];
        stripe[counter as usize].fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> CacheStats {
        let sum = |c: Counter| -> u64 {
            self.stripes
                .iter()
                .map(|s| s[c as usize].load(Ordering::Relaxed))
                .sum()
        };
        CacheStats {
            hits: sum(Counter::Hit),
            misses: sum(Counter::Miss),
            loads: sum(Counter::Load),
            load_errors: sum(Counter::LoadError),
            evictions: sum(Counter::Eviction),
            stale_served: sum(Counter::StaleServed),
            // The load groups' (see `Cache::stats`).
            coalesced: 0,
        }
    }
}
