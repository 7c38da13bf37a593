//! How reads and writes reach the eviction policy: read events through the
//! lossy rings, writes under the policy lock, evictions out of the map.

use core::hash::Hash;

use alloc::vec::Vec;

use super::access_buffer::Push;
use super::slot::Slot;
use super::stats::Counter;
use super::store::Replaced;
use super::{Death, Inner, PolicyState, RemovalCause};
use crate::sync::Ordering;
use crate::time::{Clock, Nanos};

/// Whether a load's write must give way (its key was written since the
/// load started), given the slot now under the key if there is one; asked
/// under the shard's write lock.
pub(super) type YieldTest<'a, K, V> = dyn Fn(Option<&Slot<K, V>>) -> bool + 'a;

/// Who writes a slot (see [`Inner::write`]).
pub(super) enum Writer<'a, K, V> {
    /// An application's `insert`: running loads are told.
    User,
    /// A load's result, written unless the test says the key was written
    /// since the load started.
    Load(&'a YieldTest<'a, K, V>),
}

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
        self.record_as(crate::sync::thread_index(), hash, hit);
    }

    /// [`record`](Self::record) by the thread whose `thread_index` is
    /// `thread`.
    #[inline]
    pub(super) fn record_as(&self, thread: usize, hash: u64, hit: bool) {
        let push = |h| {
            if hit {
                self.buffers.push_hit(thread, h)
            } else {
                self.buffers.push_miss(thread, h)
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

    /// Removes the slot under `hash` if it is still the dead one a read
    /// found (`death`), unless another thread holds the policy lock (the
    /// next read or sweep will).
    #[cold]
    pub(super) fn remove_dead(&self, hash: u64, death: Death) {
        let Some(mut state) = self.policy.try_lock() else {
            return;
        };
        self.drain(&mut state);
        let now = self.clock.recent();
        let removed = self.map.remove_if(hash, |slot| death.still(slot, now));
        if removed.is_some() {
            state.policy.remove(hash);
        }
        drop(state);
        if let Some(slot) = &removed {
            self.notify(slot, death.cause());
        }
    }

    pub(super) fn weigh(&self, key: &K, value: Option<&V>) -> u32 {
        match (&self.settings.weigher, value) {
            (Some(weigher), Some(value)) => weigher(key, value).max(1),
            _ => 1,
        }
    }

    /// Writes `key`'s slot, stamped with invalidation generation
    /// `generation` (the current one for a plain insert, the one a load
    /// started in for a loaded value): only the shard's lock when the key
    /// is resident and weights cannot change, otherwise through the policy.
    ///
    /// A user's write ([`Writer::User`], an `insert`) tells running loads before
    /// it starts and as soon as its slot is in the map (`note_user_write`),
    /// before any listener runs: a load that finishes inside a weigher or a
    /// listener must see it.
    ///
    /// A load's write ([`Writer::Load`]) passes a test, asked under the
    /// shard's write lock: whether the key was written since the load
    /// started; if so nothing is written. Checked there, an insert that starts
    /// after the check writes after this write, so the newer value stays.
    pub(super) fn write(
        &self,
        key: K,
        value: Option<V>,
        stale_at: Nanos,
        expires_at: Nanos,
        generation: u32,
        writer: Writer<'_, K, V>,
    ) {
        let (by_user, test) = match writer {
            Writer::User => (true, None),
            Writer::Load(test) => (false, Some(test)),
        };
        // An insert never yields (and makes no indirect call to find out).
        let yields = |resident: Option<&Slot<K, V>>| test.is_some_and(|t| t(resident));
        let hash = self.map.hash(&key);
        if by_user {
            self.note_user_write(hash);
        }
        let slot = Slot::new(
            key,
            value,
            stale_at,
            expires_at,
            generation,
            self.hit_filter.never(),
        );
        let slot = if self.settings.weigher.is_none() {
            // The new slot inherits the old one's last report, so rewriting
            // a hot key is filtered like reading it.
            let carry = |old: &Slot<K, V>, new: &Slot<K, V>| {
                let reported = old.reported().load(Ordering::Relaxed);
                new.reported().store(reported, Ordering::Relaxed);
                self.hit_filter.admit(new.reported())
            };
            match self.map.replace(hash, slot, yields, carry) {
                Replaced::Yielded(_) => return,
                Replaced::Done((old, report)) => {
                    if by_user {
                        self.note_user_write(hash);
                    }
                    if report {
                        self.record(hash, true);
                    }
                    if self.listens() {
                        let cause = self.removal_cause(&old, RemovalCause::Replaced);
                        self.notify(&old, cause);
                    }
                    return;
                }
                Replaced::Absent(slot) => slot,
            }
        } else {
            slot
        };
        let weight = self.weigh(&slot.key, slot.value());
        let mut state = self.policy.lock();
        self.drain(&mut state);
        let PolicyState { policy, evicted } = &mut *state;
        let replaced = match self.map.insert(hash, slot, yields) {
            Ok(replaced) => replaced,
            Err(slot) => {
                // Dropped after the policy lock, as evicted slots are.
                drop(state);
                drop(slot);
                return;
            }
        };
        if by_user {
            self.note_user_write(hash);
        }
        if replaced.is_some() {
            policy.update_weight(hash, weight, evicted);
        } else {
            policy.insert(hash, weight, evicted);
        }
        // Evicted keys and values are dropped after the policy lock, so a
        // costly `Drop` holds up no other writer. Usually one victim: it
        // is kept without allocating, only further ones go to a `Vec`.
        let (mut first, mut rest) = (None, Vec::new());
        for victim in evicted.drain(..) {
            if let Some(slot) = self.map.remove(victim) {
                if first.is_none() {
                    first = Some(slot);
                } else {
                    rest.push(slot);
                }
            }
        }
        drop(state);
        // Each cause is settled once, before the first listener call. A
        // victim that had already expired or been invalidated left for that
        // reason, not for room: it is no eviction, and the listener hears
        // the same cause as the counter.
        let listens = self.listens();
        let (mut removed, mut evictions) = (Vec::new(), 0u64);
        let replaced = replaced
            .filter(|_| listens)
            .map(|slot| (slot, RemovalCause::Replaced));
        let victims = first.into_iter().chain(rest);
        for (slot, site) in replaced
            .into_iter()
            .chain(victims.map(|slot| (slot, RemovalCause::Size)))
        {
            let cause = self.removal_cause(&slot, site);
            evictions += u64::from(cause == RemovalCause::Size);
            if listens {
                removed.push((slot, cause));
            }
        }
        if evictions > 0 {
            self.stats.add(Counter::Eviction, evictions);
        }
        for (slot, cause) in &removed {
            self.notify(slot, *cause);
        }
    }
}
