//! Where the entries live: a hash table split into shards, each behind its
//! own reader-writer lock, entries stored inline.
//!
//! # Layout
//!
//! The shard of an entry is bits 25..57 of its key hash scaled onto the
//! shard count (see [`shard_count`] for how many). The tables index buckets
//! by the low bits and tag them with the top seven, so within a shard both
//! still vary (a shard chosen by the top bits would leave its keys two to
//! eight distinct tags, and most probes would compare a key in vain).
//!
//! A shard is a [`HashTable`] of [`Slot`]s, not of pointers to them: a
//! read that finds its bucket has its key, value and deadlines in the same
//! place, one memory access instead of a bucket and then a boxed entry. The
//! slot does not keep its hash; the table recomputes it from the key when
//! it grows.
//!
//! # Protocol
//!
//! * One slot per key hash: a write under a hash replaces whatever slot
//!   holds it. The eviction policy knows entries only by hash, so this keeps
//!   the two in step.
//! * Reads take the shard's read lock, look, clone what they need and let
//!   go: they never wait for each other, only for a writer of the same
//!   shard (a waiting writer goes first). The lock is a
//!   [`ReadMostlyLock`]: a reader takes only its thread's stripe, so two
//!   threads reading one shard do not pass a lock word's cache line back and
//!   forth on every hit; a writer takes every stripe.
//!   Under a read lock the cache may run user `invalidate_if` predicates
//!   (the first read of an entry after an invalidation); under a write lock
//!   it runs no user code but the key's `Hash` and `Eq`: a probe and a
//!   move, or a table's growth (the slot does not keep its hash, so a probe
//!   by hash and a growth hash stored keys again; see the cache's module
//!   docs on a `Hash` that panics).
//! * Writers take the shard's write lock. Adding or removing a key happens
//!   only while the caller holds the cache's policy lock (the lock order is
//!   policy, then shard), so `len` changes in step with the policy.
//! * Replaced and removed slots are handed back to the caller, so their key
//!   and value are dropped after the shard lock is released (and the cache
//!   drops them after its policy lock too).

use core::hash::Hash;

use alloc::boxed::Box;
use alloc::vec::Vec;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::hashing::KeyHasher;
use super::sizing::{least_buckets_split, part_of};
use super::slot::Slot;
use crate::sync::{AtomicUsize, CachePadded, Ordering, ReadMostlyLock};

/// Most shards a cache is split into.
const MAX_SHARDS: u64 = 64;
/// Fewest shards a large cache is split into (they are what concurrent
/// readers and writers spread over).
const MIN_SHARDS: u64 = 16;
/// About this many entries of capacity per shard for small caches.
const ENTRIES_PER_SHARD: u64 = 64;
/// Most slots reserved up front, over all shards; beyond, tables grow.
const MAX_RESERVED: u64 = 1 << 16;

/// How many shards a cache of `capacity` entries gets: small caches about
/// one per `ENTRIES_PER_SHARD`, larger ones the count from `MIN_SHARDS` to
/// `MAX_SHARDS` with the fewest buckets in all (see
/// [`least_buckets_split`]): 1M entries, 36 shards of 32,768 buckets, 85%
/// full, rather than 64 half-empty ones.
fn shard_count(capacity: u64) -> u64 {
    if capacity < MIN_SHARDS * ENTRIES_PER_SHARD {
        return (capacity / ENTRIES_PER_SHARD).clamp(1, MIN_SHARDS);
    }
    least_buckets_split(capacity, MIN_SHARDS, MAX_SHARDS)
}

/// What [`Store::replace`] did.
pub(super) enum Replaced<K, V, R> {
    /// Replaced the resident slot.
    Done(R),
    /// No slot under the hash: the new one, unstored.
    Absent(Slot<K, V>),
    /// The writer yielded to the resident slot: the new one, unstored.
    Yielded(Slot<K, V>),
}

/// A shard: its table behind a striped lock. Padded to its own cache line,
/// so an insert that updates one table's header does not evict the headers
/// of the shards beside it from other readers' caches.
type Shard<K, V> = CachePadded<ReadMostlyLock<HashTable<Slot<K, V>>>>;

/// The sharded table of a cache's entries, keyed by a seeded hash of the key.
pub(super) struct Store<K, V> {
    shards: Box<[Shard<K, V>]>,
    hasher: KeyHasher,
    len: AtomicUsize,
}

impl<K, V> Store<K, V> {
    /// An empty store for a cache of `capacity` entries (or weight).
    pub(super) fn new(capacity: u64) -> Self {
        let count = shard_count(capacity) as usize;
        let per_shard = (capacity.min(MAX_RESERVED) as usize).div_ceil(count);
        let shards = (0..count)
            .map(|_| CachePadded::new(ReadMostlyLock::new(HashTable::with_capacity(per_shard))))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Store {
            shards,
            hasher: KeyHasher::new(),
            len: AtomicUsize::new(0),
        }
    }

    /// Entries stored.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// How many shards the store has (they are numbered from 0).
    pub(super) fn shards(&self) -> usize {
        self.shards.len()
    }
}

impl<K: Hash, V> Store<K, V> {
    /// The seeded hash entries are stored under.
    #[inline]
    pub(super) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash(key)
    }

    /// The shard of `hash`: bits 25..57 scaled onto the shard count
    /// (multiply and shift, no division). Not the top seven bits: those are
    /// the table's tags, and if a shard's keys shared them most probes
    /// would match the tag and compare a key on another cache line.
    #[inline]
    fn shard(&self, hash: u64) -> &ReadMostlyLock<HashTable<Slot<K, V>>> {
        &self.shards[part_of(hash, self.shards.len())]
    }

    /// Whether `slot` is the one stored under `hash`.
    #[inline]
    fn holds(&self, hash: u64) -> impl Fn(&Slot<K, V>) -> bool + '_ {
        move |slot| self.hasher.hash(&slot.key) == hash
    }

    /// Runs `read` on the slot under `hash` if `matches` accepts it, under
    /// the shard's read lock.
    #[inline]
    pub(super) fn read<R>(
        &self,
        hash: u64,
        matches: impl Fn(&Slot<K, V>) -> bool,
        read: impl FnOnce(&Slot<K, V>) -> R,
    ) -> Option<R> {
        self.read_as(crate::sync::thread_index(), hash, matches, read)
    }

    /// [`read`](Self::read) by the thread whose `thread_index` is `thread`.
    #[inline]
    pub(super) fn read_as<R>(
        &self,
        thread: usize,
        hash: u64,
        matches: impl Fn(&Slot<K, V>) -> bool,
        read: impl FnOnce(&Slot<K, V>) -> R,
    ) -> Option<R> {
        self.shard(hash)
            .read_as(thread)
            .find(hash, matches)
            .map(read)
    }

    /// Puts `slot` in place of the one under `hash` and returns the old one
    /// with what `carry(old, new)` returned (run under the lock); if no slot
    /// is under `hash`, hands `slot` back unstored. If `yields(resident)` (asked
    /// under the lock) holds, nothing is written either:
    /// [`Replaced::Yielded`].
    pub(super) fn replace<R>(
        &self,
        hash: u64,
        slot: Slot<K, V>,
        yields: impl FnOnce(Option<&Slot<K, V>>) -> bool,
        carry: impl FnOnce(&Slot<K, V>, &Slot<K, V>) -> R,
    ) -> Replaced<K, V, (Slot<K, V>, R)> {
        let mut table = self.shard(hash).write();
        match table.find_mut(hash, self.holds(hash)) {
            Some(resident) if yields(Some(resident)) => Replaced::Yielded(slot),
            Some(resident) => {
                let old = core::mem::replace(resident, slot);
                let carried = carry(&old, resident);
                Replaced::Done((old, carried))
            }
            None => Replaced::Absent(slot),
        }
    }

    /// Stores `slot` under `hash` and returns the slot it replaced, unless
    /// `yields(resident)` (asked under the shard's lock, with the slot
    /// under `hash` if there is one) holds. Only under the cache's policy
    /// lock.
    pub(super) fn insert(
        &self,
        hash: u64,
        slot: Slot<K, V>,
        yields: impl FnOnce(Option<&Slot<K, V>>) -> bool,
    ) -> Result<Option<Slot<K, V>>, Slot<K, V>> {
        let mut table = self.shard(hash).write();
        let entry = table.entry(hash, self.holds(hash), |s| self.hasher.hash(&s.key));
        let resident = match &entry {
            Entry::Occupied(resident) => Some(resident.get()),
            Entry::Vacant(_) => None,
        };
        if yields(resident) {
            return Err(slot);
        }
        match entry {
            Entry::Occupied(mut resident) => Ok(Some(core::mem::replace(resident.get_mut(), slot))),
            Entry::Vacant(vacant) => {
                vacant.insert(slot);
                self.len.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
        }
    }

    /// Removes the slot under `hash` if `remove` accepts it. Only under the
    /// cache's policy lock.
    pub(super) fn remove_if(
        &self,
        hash: u64,
        remove: impl FnOnce(&Slot<K, V>) -> bool,
    ) -> Option<Slot<K, V>> {
        let mut table = self.shard(hash).write();
        let entry = table.find_entry(hash, self.holds(hash)).ok()?;
        if !remove(entry.get()) {
            return None;
        }
        let (slot, _) = entry.remove();
        self.len.fetch_sub(1, Ordering::Relaxed);
        Some(slot)
    }

    /// Removes the slot under `hash`. Only under the cache's policy lock.
    pub(super) fn remove(&self, hash: u64) -> Option<Slot<K, V>> {
        self.remove_if(hash, |_| true)
    }

    /// Appends to `found` `select`'s finding for every slot of shard
    /// `shard` that `select` returns `Some` for, under that shard's read
    /// lock.
    pub(super) fn select_in<T>(
        &self,
        shard: usize,
        select: impl FnMut(&Slot<K, V>) -> Option<T>,
        found: &mut Vec<T>,
    ) {
        found.extend(self.shards[shard].read().iter().filter_map(select));
    }

    /// The hash and `select`'s finding for every slot `select` returns
    /// `Some` for, one shard at a time under its read lock.
    pub(super) fn select<T>(&self, select: impl Fn(&Slot<K, V>) -> Option<T>) -> Vec<(u64, T)> {
        let mut found = Vec::new();
        for shard in 0..self.shards.len() {
            self.select_in(
                shard,
                |slot| Some((self.hasher.hash(&slot.key), select(slot)?)),
                &mut found,
            );
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Nanos;

    fn slot(key: u64, value: u64) -> Slot<u64, u64> {
        Slot::new(key, Some(value), Nanos::MAX, Nanos::MAX, 0, 0)
    }

    #[test]
    fn one_slot_per_hash_and_len_follows_adds_and_removals() {
        let store = Store::<u64, u64>::new(10_000);
        let hashes: Vec<u64> = (0..1_000).map(|k| store.hash(&k)).collect();
        for (k, &h) in hashes.iter().enumerate() {
            assert!(
                store
                    .insert(h, slot(k as u64, 0), |_| false)
                    .unwrap()
                    .is_none()
            );
        }
        assert_eq!(store.len(), 1_000);
        let old = store
            .insert(hashes[7], slot(7, 70), |_| false)
            .unwrap()
            .expect("resident");
        assert_eq!(old.value(), Some(&0));
        assert_eq!(store.len(), 1_000);
        assert_eq!(
            store.read(hashes[7], |s| s.key == 7, |s| s.value().copied()),
            Some(Some(70))
        );
        assert_eq!(
            store.read(hashes[7], |s| s.key == 8, |s| s.value().copied()),
            None
        );
        let absent = store.replace(store.hash(&5_000u64), slot(5_000, 1), |_| false, |_, _| ());
        assert!(matches!(absent, Replaced::Absent(s) if s.key == 5_000));
        // A writer that yields to the resident slot writes nothing.
        let yielded = store.replace(hashes[9], slot(9, 99), |_| true, |_, _| ());
        assert!(matches!(yielded, Replaced::Yielded(s) if s.key == 9));
        assert!(matches!(
            store.insert(hashes[9], slot(9, 99), |_| true),
            Err(s) if s.key == 9
        ));
        let Replaced::Done((old, carried)) = store.replace(
            hashes[9],
            slot(9, 90),
            |_| false,
            |old, new| (old.value().copied(), new.value().copied()),
        ) else {
            panic!("resident");
        };
        assert_eq!(
            (old.value().copied(), carried),
            (Some(0), (Some(0), Some(90)))
        );
        assert!(
            store
                .remove_if(hashes[9], |s| s.value() == Some(&0))
                .is_none()
        );
        assert_eq!(
            store.remove(hashes[9]).map(|s| s.value().copied()),
            Some(Some(90))
        );
        assert!(store.remove(hashes[9]).is_none());
        assert_eq!(store.len(), 999);
        let mut odd: Vec<u64> = store
            .select(|s| (s.key % 2 == 1).then_some(()))
            .into_iter()
            .map(|(h, ())| h)
            .collect();
        odd.sort_unstable();
        let mut want: Vec<u64> = (0..1_000u64)
            .filter(|k| k % 2 == 1 && *k != 9)
            .map(|k| hashes[k as usize])
            .collect();
        want.sort_unstable();
        assert_eq!(odd, want);
    }

    #[test]
    fn shard_count_follows_capacity() {
        assert_eq!(shard_count(10), 1);
        assert_eq!(shard_count(256), 4);
        assert_eq!(shard_count(1_000_000), 36);
        for capacity in [1_024, 5_000, 100_000, 1 << 20, 1 << 30, u64::MAX] {
            let shards = shard_count(capacity);
            assert!(
                (MIN_SHARDS..=MAX_SHARDS).contains(&shards),
                "{capacity}: {shards}"
            );
        }
    }

    #[test]
    fn keys_spread_over_every_shard() {
        let store = Store::<u64, u64>::new(1_000_000);
        let mut per_shard = alloc::vec![0u32; store.shards.len()];
        for k in 0..36_000u64 {
            let h = store.hash(&k);
            let shard = store.shard(h) as *const _;
            let i = store.shards.iter().position(|s| core::ptr::eq(&**s, shard));
            per_shard[i.expect("a shard of the store")] += 1;
        }
        // 1,000 expected per shard; 4 standard deviations is about 126.
        assert!(
            per_shard.iter().all(|&n| (850..1150).contains(&n)),
            "{per_shard:?}"
        );
    }
}
