//! How reads and writes reach the eviction policy: read events through the
//! lossy rings, writes under the policy lock, evictions out of the map.

use core::hash::Hash;

use papaya::{Compute, Guard, Operation};

use super::access_buffer::Push;
use super::slot::Slot;
use super::stats::Counter;
use super::{Inner, PolicyState};
use crate::time::{Clock, Nanos};

impl<K, V, C> Inner<K, V, C>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Clone + Send + Sync,
    C: Clock,
{
    /// Records a read for the policy; drains when this thread's ring is full
    /// and the policy lock is free (otherwise the event is dropped).
    #[inline]
    pub(super) fn record(&self, hash: u64, hit: bool) {
        let push = |h| {
            if hit {
                self.buffers.push_hit(h)
            } else {
                self.buffers.push_miss(h)
            }
        };
        if push(hash) == Push::Full
            && let Some(mut state) = self.policy.try_lock()
        {
            self.drain(&mut state);
            push(hash);
        }
    }

    /// Feeds buffered reads to the policy. Holds the policy lock (`state`).
    /// A hit whose key was removed since is still passed on: it was a hit
    /// when it happened, and the policy ignores hashes it does not hold
    /// (beyond counting their frequency).
    pub(super) fn drain(&self, state: &mut PolicyState) {
        let policy = &mut state.policy;
        let mut events = 0;
        self.buffers.drain(|hashes, hits| {
            events += hashes.len();
            if hits {
                policy.record_accesses(hashes);
            } else {
                hashes.iter().for_each(|&hash| policy.record_miss(hash));
            }
        });
        if events > 0 {
            self.hit_filter.advance(events, self.map.len());
        }
    }

    #[cold]
    pub(super) fn remove_dead(&self, hash: u64, dead: &Slot<K, V>, guard: &impl Guard) {
        let Some(mut state) = self.policy.try_lock() else {
            return;
        };
        self.drain(&mut state);
        let removed = self
            .map
            .remove_if(&hash, |_, slot| core::ptr::eq(slot, dead), guard);
        if let Ok(Some(_)) = removed {
            state.policy.remove(hash);
        }
    }

    pub(super) fn weigh(&self, key: &K, value: Option<&V>) -> u32 {
        match (&self.settings.weigher, value) {
            (Some(weigher), Some(value)) => weigher(key, value).max(1),
            _ => 1,
        }
    }

    /// Writes a slot: a lock-free swap when the key is resident and weights
    /// cannot change, otherwise through the policy.
    pub(super) fn write(&self, key: K, value: Option<V>, stale_at: Nanos, expires_at: Nanos) {
        let hash = self.hasher.hash(&key);
        let generation = self.generations.current();
        let guard = self.map.guard();
        if self.settings.weigher.is_none() {
            let swap = |resident: Option<_>| match resident {
                Some(_) => Operation::Insert(Slot::new(
                    key.clone(),
                    value.clone(),
                    stale_at,
                    expires_at,
                    generation,
                    self.hit_filter.never(),
                )),
                None => Operation::Abort(()),
            };
            if let Compute::Updated { .. } = self.map.compute(hash, swap, &guard) {
                self.record(hash, true);
                return;
            }
        }
        let weight = self.weigh(&key, value.as_ref());
        let slot = Slot::new(
            key,
            value,
            stale_at,
            expires_at,
            generation,
            self.hit_filter.never(),
        );
        let mut state = self.policy.lock();
        self.drain(&mut state);
        let PolicyState { policy, evicted } = &mut *state;
        if self.map.insert(hash, slot, &guard).is_some() {
            policy.update_weight(hash, weight, evicted);
        } else {
            policy.insert(hash, weight, evicted);
        }
        let mut evictions = 0;
        for victim in evicted.drain(..) {
            if self.map.remove(&victim, &guard).is_some() {
                evictions += 1;
            }
        }
        drop(state);
        if evictions > 0 {
            self.stats.add(Counter::Eviction, evictions);
        }
    }
}
