//! O(1) invalidation by generations.
//!
//! ```text
//! current: AtomicU32   generation stamped on every entry written from now on
//! floor:   AtomicU32   entries stamped below it are dead (invalidate_all)
//! predicates           (bound, test): an entry stamped below `bound` for
//!                      which `test(key, value)` holds is dead (invalidate_if)
//! ```
//!
//! * `invalidate_all` stores `floor = current + 1`, then `current + 1`.
//! * `invalidate_if` pushes `(current + 1, test)`, then stores `current + 1`.
//! * Both run under the `predicates` write lock, so generations rise one at
//!   a time, and `floor` (or the predicate) is visible to any reader that
//!   observes the new `current` (Release store / Acquire load).
//! * A reader whose entry carries `current` is done: one atomic load, no lock
//!   (the hit path). Otherwise it checks `floor` and the predicates bound
//!   above the entry's stamp (read lock, slow path, once per entry per
//!   invalidation) and, if the entry survives, raises the stamp to the
//!   `current` it loaded *before* reading them, so a predicate registered
//!   meanwhile still applies.
//! * Dead entries are removed lazily when found, or by a sweep
//!   ([`Cache::run_pending_tasks`](super::Cache::run_pending_tasks), run
//!   automatically once predicates pile up), after which predicates bound at
//!   or below the sweep's starting generation are dropped.
//!
//! Generations compare in serial-number arithmetic (`a - b` as `i32`), which
//! is exact while an entry is at most 2^31 invalidations behind.

use alloc::vec::Vec;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::slot::{Slot, View};
use crate::sync::{AtomicU32, Ordering, RwLock};
// `Arc` here only shares immutable settings and the cache itself; it guards
// no protocol state, so it stays `alloc`'s under every cfg (loom's `Arc`
// cannot hold trait objects).
use alloc::sync::Arc;

pub(super) type Predicate<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;

/// Predicates pending beyond this many trigger a sweep.
pub(super) const SWEEP_AFTER: usize = 16;

#[inline]
pub(super) fn older(stamp: u32, than: u32) -> bool {
    (stamp.wrapping_sub(than) as i32) < 0
}

pub(super) struct Generations<K, V> {
    current: AtomicU32,
    floor: AtomicU32,
    /// How many sweeps have dropped predicates (see [`Generations::admits_load`]).
    retired: AtomicU32,
    predicates: RwLock<Vec<(u32, Predicate<K, V>)>>,
}

impl<K, V> core::fmt::Debug for Generations<K, V> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Generations")
            .field("current", &self.current.load(Ordering::Relaxed))
            .field("floor", &self.floor.load(Ordering::Relaxed))
            .field("predicates", &self.predicates.read().len())
            .finish()
    }
}

impl<K, V> Generations<K, V> {
    pub(super) fn new() -> Self {
        Generations {
            current: AtomicU32::new(0),
            floor: AtomicU32::new(0),
            retired: AtomicU32::new(0),
            predicates: RwLock::new(Vec::new()),
        }
    }

    /// The stamp for an entry written now.
    #[inline]
    pub(super) fn current(&self) -> u32 {
        self.current.load(Ordering::Acquire)
    }

    pub(super) fn invalidate_all(&self) {
        let predicates = self.predicates.write();
        let next = self.current.load(Ordering::Relaxed).wrapping_add(1);
        self.floor.store(next, Ordering::Release);
        self.current.store(next, Ordering::Release);
        drop(predicates);
    }

    /// Registers `test`; returns how many predicates are pending.
    pub(super) fn invalidate_if(&self, test: Predicate<K, V>) -> usize {
        let mut predicates = self.predicates.write();
        let next = self.current.load(Ordering::Relaxed).wrapping_add(1);
        predicates.push((next, test));
        self.current.store(next, Ordering::Release);
        predicates.len()
    }

    #[cfg(test)]
    fn is_valid(&self, slot: &Slot<K, V>) -> bool {
        self.is_valid_view(slot, slot.view())
    }

    /// Whether `slot` (whose view is `view`) survives every invalidation
    /// so far; raises its stamp when it does.
    #[inline]
    pub(super) fn is_valid_view(&self, slot: &Slot<K, V>, view: View<'_, V>) -> bool {
        let stamp = view.generation().load(Ordering::Acquire);
        let current = self.current.load(Ordering::Acquire);
        stamp == current || self.check_slow(slot, stamp, current)
    }

    #[cold]
    fn check_slow(&self, slot: &Slot<K, V>, stamp: u32, current: u32) -> bool {
        if older(stamp, self.floor.load(Ordering::Acquire)) {
            return false;
        }
        let predicates = self.predicates.read();
        for (bound, test) in predicates.iter() {
            if older(stamp, *bound) {
                // A cached "not found" has no value to test; dropping it only
                // costs a reload.
                // A panicking predicate holds (see `Cache::invalidate_if`).
                let holds = |value| {
                    catch_unwind(AssertUnwindSafe(|| test(&slot.key, value))).unwrap_or(true)
                };
                match slot.value() {
                    Some(value) if !holds(value) => {}
                    _ => return false,
                }
            }
        }
        slot.generation().fetch_max_serial(current);
        true
    }

    /// Drops predicates every entry has been checked against (call after a
    /// sweep that started at generation `swept_from`).
    pub(super) fn retire(&self, swept_from: u32) {
        let mut predicates = self.predicates.write();
        let before = predicates.len();
        predicates.retain(|(bound, _)| older(swept_from, *bound));
        if predicates.len() != before {
            self.retired.fetch_add(1, Ordering::Release);
        }
    }

    /// What a load notes as it starts, for [`admits_load`](Self::admits_load):
    /// the retirements so far, then the current generation (in that order:
    /// a predicate retired before the first read was bound at or below the
    /// second).
    pub(super) fn load_start(&self) -> (u32, u32) {
        let retired = self.retired.load(Ordering::Acquire);
        (self.current(), retired)
    }

    /// Whether a value that a load which started at `(generation,
    /// retired)` ([`load_start`](Self::load_start)) read for `key` may be
    /// cached: no `invalidate_all` since, no `invalidate_if` since whose
    /// predicate holds for it (a "not found", which has no value to test,
    /// counts as held, as in [`is_valid`](Self::is_valid)), and no such
    /// predicate dropped by a sweep before it could be asked. On `Some`,
    /// the generation the answer holds up to: the value is written stamped
    /// with the load's start generation only if that is still current when
    /// the shard's lock is held, and later invalidations then apply to it
    /// as to any older entry (a sweep that could retire them starts after
    /// them, so after the write, and sees it). Runs the predicates under
    /// the predicates' read lock, as [`is_valid`](Self::is_valid) does.
    pub(super) fn admits_load(
        &self,
        (generation, retired): (u32, u32),
        key: &K,
        value: Option<&V>,
    ) -> Option<u32> {
        // The common case, no invalidation since the load started: no lock.
        if self.current.load(Ordering::Acquire) == generation {
            return Some(generation);
        }
        let predicates = self.predicates.read();
        let current = self.current.load(Ordering::Acquire);
        if older(generation, self.floor.load(Ordering::Acquire))
            || self.retired.load(Ordering::Acquire) != retired
        {
            return None;
        }
        for (bound, test) in predicates.iter() {
            if older(generation, *bound) {
                let holds =
                    |value| catch_unwind(AssertUnwindSafe(|| test(key, value))).unwrap_or(true);
                match value {
                    Some(value) if !holds(value) => {}
                    _ => return None,
                }
            }
        }
        Some(current)
    }
}

/// Raising a stamp never lowers it, even if two readers race.
trait RaiseStamp {
    fn fetch_max_serial(&self, to: u32);
}

impl RaiseStamp for AtomicU32 {
    fn fetch_max_serial(&self, to: u32) {
        let mut seen = self.load(Ordering::Relaxed);
        while older(seen, to) {
            match self.compare_exchange_weak(seen, to, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => seen = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Nanos;

    fn slot(key: u32, stamp: u32) -> Slot<u32, u32> {
        Slot::new(key, Some(key * 10), Nanos::MAX, Nanos::MAX, stamp, 0)
    }

    #[test]
    fn invalidate_all_kills_older_stamps_only() {
        let g = Generations::<u32, u32>::new();
        let old = slot(1, g.current());
        g.invalidate_all();
        let new = slot(2, g.current());
        assert!(!g.is_valid(&old));
        assert!(g.is_valid(&new));
    }

    #[test]
    fn predicate_applies_to_older_entries_and_is_retired_after_a_sweep() {
        let g = Generations::<u32, u32>::new();
        let even = slot(2, g.current());
        let odd = slot(3, g.current());
        g.invalidate_if(Arc::new(|k, _| k % 2 == 0));
        let later_even = slot(4, g.current());
        assert!(!g.is_valid(&even));
        assert!(g.is_valid(&odd));
        assert_eq!(odd.generation().load(Ordering::Relaxed), g.current());
        assert!(g.is_valid(&later_even));
        g.retire(g.current());
        assert_eq!(g.predicates.read().len(), 0);
    }

    #[test]
    fn serial_order_survives_wrap() {
        assert!(older(u32::MAX, 0));
        assert!(!older(0, u32::MAX));
    }
}
