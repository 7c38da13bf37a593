//! An in-process TTL cache: bounded, concurrent, with stale-while-revalidate.
//!
//! * **Map.** A hash table split into up to 64 shards, each behind its own
//!   reader-writer lock, entries stored inline in the table (`store.rs`);
//!   the lock is striped by thread (`sync/read_mostly.rs`), so readers on
//!   different CPUs never write one lock word,
//!   placed by a randomly seeded 64-bit hash of the key (ahash
//!   `RandomState`, seeded per cache), so keys chosen by an attacker cannot
//!   be made to collide. The slot keeps the key and every read compares it.
//!   One slot per hash, though: two unequal keys with one hash displace
//!   each other (the listener hears `Replaced`). Seeded 64-bit hashes make
//!   that a 2^-64 accident, unless the key's `Hash` covers fewer fields
//!   than its `Eq` (which `Hash` allows): then keys differing only in the
//!   other fields share one entry's place, so hash every field `Eq`
//!   compares. The slot does not keep its hash (it would cost 8 bytes an
//!   entry): finding a slot by hash alone (evicting a victim) and growing
//!   a table hash stored keys again, so a key's `Hash` must not panic. As
//!   for std's `HashMap`, one that does is a logic error the cache
//!   survives memory-safe and working, but it may keep an entry the policy
//!   no longer knows (never evicted: the cache holds one more), or lose
//!   entries a growing table had not moved yet (`entry_count` keeps
//!   counting them).
//! * **Reads.** A hit allocates nothing and waits only for a writer of its
//!   own shard: under the shard's read lock it finds the slot, checks the
//!   key, the invalidation generation and (only when the entry has a
//!   deadline) the clock, clones the value, and after the lock records the
//!   hit in a per-thread lossy ring (protocol in `access_buffer.rs`). When
//!   that ring is full (one hit in 32 on a single thread) the hit *tries* the
//!   policy lock to drain it; if another thread holds it, the event is
//!   dropped instead of waiting. Values are cloned out, so store `Arc<T>` for
//!   anything larger than a few words.
//! * **Policy.** Every buffered read reaches the eviction policy (W-TinyLFU,
//!   see `policy/`) before it decides anything: a single thread driving a
//!   cache of fewer than 64 entries is seen exactly, access by access;
//!   under contention some read events are dropped, never writes. From
//!   4,096 entries on, a hit (a read, or a write replacing a resident
//!   value) is buffered only if the entry's last reported hit is at least
//!   a cache's worth of policy events old (half that from 64 to 4,096
//!   entries, and a sixteenth and a quarter of it for a new entry's second
//!   and third reports;
//!   `hit_filter.rs`): a hot entry is then touched in the policy about once
//!   per turnover instead of on every read, which spares most reads the
//!   policy's work and cache misses, at a measured cost of at most 0.9
//!   points of hit ratio (on a workload whose hot set drifts).
//! * **Writes.** Replacing the value of a resident key (without a weigher)
//!   takes only its shard's write lock. Adding a key takes the policy lock: the
//!   read rings are drained into the policy first (so the policy sees every
//!   access in order when one thread drives the cache), then the policy
//!   decides what to evict and those entries leave the map.
//! * **Capacity.** The entries in the map are exactly the keys the policy
//!   holds, so the total weight never exceeds `max_capacity` once a call
//!   returns; while an insert is in progress one more entry may be visible.
//! * **Expiry.** A hard TTL per cache or per entry; an expired entry is never
//!   returned, and is removed when a read finds it, when it is evicted, or by
//!   [`Cache::run_pending_tasks`].
//! * **Invalidation.** `invalidate_all` and `invalidate_if` are O(1):
//!   generation bumps applied lazily (see `invalidation.rs`).
//!
//! ```
//! use brace::cache::Cache;
//! use std::sync::Arc;
//!
//! let cache = Cache::<u64, Arc<str>>::builder().max_capacity(1_000).build()?;
//! cache.insert(7, Arc::from("seven"));
//! assert_eq!(cache.get(&7).as_deref(), Some("seven"));
//! cache.remove(&7);
//! assert_eq!(cache.get(&7), None);
//! # Ok::<(), brace::cache::ConfigError>(())
//! ```

mod access_buffer;
mod blocking;
mod config;
mod hashing;
mod hit_filter;
mod invalidation;
mod iter;
mod load;
pub(crate) mod policy;
mod removal;
mod sizing;
mod slot;
mod stats;
mod store;
mod writes;

use core::borrow::Borrow;
use core::fmt;
use core::hash::Hash;
use core::time::Duration;

use alloc::vec::Vec;

use crate::sync::{AtomicU32, AtomicUsize, Mutex, Ordering, fence};
// `Arc` here only shares immutable settings and the cache itself; it guards
// no protocol state, so it stays `alloc`'s under every cfg (loom's `Arc`
// cannot hold trait objects).
use crate::time::{Clock, Nanos, SystemClock};
use access_buffer::AccessBuffers;
use alloc::sync::Arc;
use invalidation::Generations;
use policy::Policy;
use slot::{Freshness, Slot, View};
use stats::{Counter, Stats};
use store::Store;
use writes::Writer;

pub use config::{CacheBuilder, ConfigError, RefreshTask};
pub use iter::Iter;
pub use removal::RemovalCause;
pub use stats::CacheStats;

#[doc(hidden)]
pub use policy::PolicySimulator;

/// A bounded concurrent cache with TTLs, O(1) invalidation and
/// stale-while-revalidate loading.
///
/// # Clone
///
/// Cloning is cheap and shares the cache: every clone reads and writes the
/// same entries.
///
/// # Memory
///
/// Per entry: the slot in the table (the key, the value, the hard deadline,
/// the soft one as a 16-bit distance and two stamps: 32 bytes for `u64`
/// keys and values; a cached "not found" costs no extra tag), at about 85%
/// table occupancy once the cache is full, plus about 22 bytes of eviction
/// policy (a 12-byte node in a table 90% full that is also its index, and
/// 8.4 bytes of frequency sketch). Measured for 1M `u64 -> u64` entries:
/// 61.0 bytes each (`cargo run --release -p brace-benches --bin
/// cache_bytes`). Anything a key or value owns on the heap comes on top.
///
/// Without a weigher, the policy's share is allocated when the cache is
/// built: for the whole capacity up to about two million entries (about 22
/// MB a million), so its node table is never rebuilt while the cache
/// fills, since a rebuild holds the policy lock (about 0.2 s for two
/// million nodes); a larger capacity starts at a million entries' worth
/// and grows. A weighted cache sizes them by the entries it holds.
///
/// # Thread safety
///
/// All methods take `&self` and may be called from any number of threads.
/// Entries are split over up to 64 shards, each behind a reader-writer lock:
/// reads share it and wait only while a write to the same shard holds it (a
/// probe and a move); writes that add or remove keys also serialise on one
/// short policy lock. Each shard's lock has one stripe per CPU (up to 8): a
/// read takes its thread's stripe, a write takes them all, so concurrent
/// readers of a shard do not contend on one cache line. The key's `Hash`
/// and `Eq` and the value's `Clone` run under a shard's lock: they must not
/// call back into the same cache (a write from them deadlocks, and so may
/// a read while another thread waits to write).
///
/// ```
/// use brace::cache::Cache;
/// use brace::time::ManualClock;
/// use core::time::Duration;
///
/// let clock = ManualClock::new();
/// let cache = Cache::<&str, u32>::builder()
///     .max_capacity(100)
///     .time_to_live(Duration::from_secs(10))
///     .clock(clock.clone())
///     .build()?;
/// cache.insert("a", 1);
/// cache.insert_with_ttl("b", 2, Duration::from_secs(1));
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(cache.get("a"), Some(1));
/// assert_eq!(cache.get("b"), None); // expired: never returned
/// # Ok::<(), brace::cache::ConfigError>(())
/// ```
pub struct Cache<K, V, C = SystemClock> {
    inner: Arc<Inner<K, V, C>>,
}

struct Inner<K, V, C> {
    map: Store<K, V>,
    buffers: AccessBuffers,
    hit_filter: hit_filter::HitFilter,
    policy: Mutex<PolicyState>,
    generations: Generations<K, V>,
    stats: Stats,
    settings: config::Settings<K, V>,
    clock: C,
    groups: load::Groups,
    /// Hashes of the keys whose stale-while-revalidate refresh is running
    /// (see `load.rs`): one refresh per key, claimed synchronously.
    refreshing: Mutex<alloc::collections::BTreeSet<u64>>,
    /// Bumped by every `remove`, and by every `insert` while a load runs,
    /// in one of `REMOVAL_STRIPES` stripes by key hash: a load that sees
    /// its stripe move does not cache its value.
    removals: [AtomicU32; REMOVAL_STRIPES],
    /// Bumped by every `remove` (and by a refresh that finds its key gone),
    /// in the key's stripe of `REMOVAL_STRIPES`: with the invalidation
    /// generation, part of a load's single-flight key, so that a caller
    /// after a remove starts its own load rather than join one that began
    /// before (see `Inner::flight_epoch`). Inserts leave it alone: a caller
    /// after an insert finds the value, and a bump per insert would split
    /// a hot key's flight whenever another key of its stripe is written.
    detaches: [AtomicU32; REMOVAL_STRIPES],
    /// Loads running (`get_or_load` and friends): an insert bumps its
    /// stripe only while some run (see `Inner::note_user_write`).
    loads_running: AtomicUsize,
}

/// Stripes of [`Inner::removals`]: a remove of another key in the same
/// stripe (1 in 64) also keeps a running load's value out of the cache.
const REMOVAL_STRIPES: usize = 64;

struct PolicyState {
    policy: Policy,
    evicted: Vec<u64>,
}

impl<K, V, C> Clone for Cache<K, V, C> {
    fn clone(&self) -> Self {
        Cache {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V, C> fmt::Debug for Cache<K, V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("entries", &self.inner.map.len())
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl<K, V> Cache<K, V, SystemClock> {
    /// Starts configuring a cache; [`CacheBuilder::max_capacity`] is
    /// required.
    pub fn builder() -> CacheBuilder<K, V, SystemClock> {
        CacheBuilder::new()
    }
}

impl<K, V, C: Clock> Cache<K, V, C> {
    fn from_settings(settings: config::Settings<K, V>, clock: C) -> Self {
        Cache {
            inner: Arc::new(Inner {
                map: Store::new(settings.max_capacity),
                buffers: AccessBuffers::new(),
                hit_filter: hit_filter::HitFilter::new(),
                policy: Mutex::new(PolicyState {
                    policy: if settings.weigher.is_some() {
                        Policy::weighted(settings.max_capacity)
                    } else {
                        Policy::new(settings.max_capacity)
                    },
                    evicted: Vec::new(),
                }),
                generations: Generations::new(),
                stats: Stats::new(),
                settings,
                clock,
                groups: load::Groups::default(),
                refreshing: Mutex::new(alloc::collections::BTreeSet::new()),
                removals: core::array::from_fn(|_| AtomicU32::new(0)),
                detaches: core::array::from_fn(|_| AtomicU32::new(0)),
                loads_running: AtomicUsize::new(0),
            }),
        }
    }
}

/// Why a slot must not be served, as found under its shard's read lock;
/// enough for a writer to recognise the slot again without running user
/// predicates under the write lock.
#[derive(Clone, Copy, Debug)]
enum Death {
    /// At or past its hard deadline.
    Expired,
    /// Invalidated; `stamp` is the generation it carried.
    Invalidated { stamp: u32 },
}

impl Death {
    /// What a removal listener is told of a slot removed dead.
    fn cause(self) -> RemovalCause {
        match self {
            Death::Expired => RemovalCause::Expired,
            Death::Invalidated { .. } => RemovalCause::Invalidated,
        }
    }

    /// Whether the slot now under the hash is still one to remove: expired
    /// at `now`, or still carrying the invalidated stamp. A slot written
    /// meanwhile with that same stamp (its write began before the
    /// invalidation) may be removed although its value would pass the
    /// predicate: a spurious eviction, never a wrong value.
    fn still<K, V>(self, slot: &Slot<K, V>, now: Nanos) -> bool {
        match self {
            Death::Expired => slot.freshness(now) == Freshness::Expired,
            Death::Invalidated { stamp } => slot.generation().load(Ordering::Relaxed) == stamp,
        }
    }
}

/// What a read found under a key.
pub(super) enum Found<V> {
    Live { value: Option<V>, stale: bool },
    Absent,
}

impl<K, V, C> Cache<K, V, C>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Clone + Send + Sync,
    C: Clock,
{
    /// The value under `key`, if one is cached and neither expired nor
    /// invalidated. A cached "not found" reads as `None`.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.inner.lookup(key) {
            Found::Live {
                value: Some(value),
                stale,
            } => {
                if stale {
                    self.inner.stats.add(Counter::StaleServed, 1);
                }
                Some(value)
            }
            _ => None,
        }
    }

    /// Whether `key` has a live entry (a cached "not found" counts). Unlike
    /// [`get`](Self::get) it clones nothing and is not a read: no hit or
    /// miss is counted and the eviction policy does not hear of it.
    ///
    /// ```
    /// use brace::cache::Cache;
    ///
    /// let cache = Cache::<u32, String>::builder().max_capacity(10).build()?;
    /// cache.insert(1, "one".to_owned());
    /// assert!(cache.contains_key(&1));
    /// assert!(!cache.contains_key(&2));
    /// assert_eq!(cache.stats().hits + cache.stats().misses, 0);
    /// # Ok::<(), brace::cache::ConfigError>(())
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let hash = inner.map.hash(key);
        inner
            .map
            .read(
                hash,
                |slot| slot.key.borrow() == key,
                |slot| inner.judge(slot).is_ok(),
            )
            .unwrap_or(false)
    }

    /// Caches `value` under `key` with the cache's TTLs, replacing any
    /// previous value. The policy may decline to admit a new key, or evict
    /// others to make room.
    pub fn insert(&self, key: K, value: V) {
        let s = &self.inner.settings;
        let (stale_at, expires_at) = self.inner.deadlines(s.time_to_live, s.refresh_after);
        self.insert_until(key, value, stale_at, expires_at);
    }

    /// Caches `value` under `key`, expiring after `ttl` instead of the
    /// cache's hard TTL. The cache's soft TTL still applies when it is
    /// shorter than `ttl`.
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        let soft = self.inner.settings.refresh_after.filter(|s| *s < ttl);
        let (stale_at, expires_at) = self.inner.deadlines(Some(ttl), soft);
        self.insert_until(key, value, stale_at, expires_at);
    }

    /// An application's write of `key`, stale at `stale_at` and gone at
    /// `expires_at`.
    fn insert_until(&self, key: K, value: V, stale_at: Nanos, expires_at: Nanos) {
        let generation = self.inner.generations.current();
        let inner = &self.inner;
        inner.write(
            key,
            Some(value),
            stale_at,
            expires_at,
            generation,
            Writer::User,
        );
    }

    /// Removes `key`; returns its value if it was live.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let hash = inner.map.hash(key);
        // Before the removal, so a load of the key that checks its stripe
        // after this removal sees it, and a caller that comes after it
        // does not join a load that began before (see `load.rs`).
        inner.removal_stripe(hash).fetch_add(1, Ordering::AcqRel);
        inner.detach_stripe(hash).fetch_add(1, Ordering::AcqRel);
        let (slot, cause) = inner.remove_key(key, RemovalCause::Removed)?;
        if cause == RemovalCause::Removed {
            slot.into_value()
        } else {
            None
        }
    }

    /// Invalidates every entry written so far, in O(1): they read as absent
    /// from now on and are removed lazily.
    pub fn invalidate_all(&self) {
        self.inner.generations.invalidate_all();
    }

    /// Invalidates every entry written so far for which `predicate(key,
    /// value)` holds (cached "not found" entries are invalidated too).
    /// Registering is O(1); the predicate runs on each older entry the next
    /// time it is read or swept, and on the value of a load that was
    /// running when it was registered (a match keeps that value out of the
    /// cache; see [`get_or_load`](Self::get_or_load)). Once 16 predicates
    /// are pending, this call sweeps the whole cache (see
    /// [`run_pending_tasks`](Self::run_pending_tasks)).
    ///
    /// The predicate runs while the cache holds a lock (a shard's read
    /// lock, and the predicates' own): it must not call back into this
    /// cache (a write from it deadlocks, and so may a read while another
    /// thread waits to write). A predicate that panics
    /// on an entry counts as holding for it: the entry is invalidated and
    /// the panic goes no further (were it to reach the reader, every read
    /// of an older entry and every sweep would panic until an
    /// `invalidate_all`, the predicate never being retired).
    pub fn invalidate_if(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) {
        let pending = self.inner.generations.invalidate_if(Arc::new(predicate));
        if pending >= invalidation::SWEEP_AFTER {
            self.run_pending_tasks();
        }
    }

    /// Feeds buffered reads to the eviction policy and removes every
    /// expired or invalidated entry (a full pass over the cache).
    pub fn run_pending_tasks(&self) {
        let inner = &*self.inner;
        let from = inner.generations.current();
        let dead = inner.map.select(|slot| inner.judge(slot).err());
        let mut state = inner.policy.lock();
        inner.drain(&mut state);
        let now = inner.clock.recent();
        let mut removed = Vec::with_capacity(dead.len());
        for (hash, death) in dead {
            if let Some(slot) = inner.map.remove_if(hash, |slot| death.still(slot, now)) {
                state.policy.remove(hash);
                removed.push((slot, death));
            }
        }
        drop(state);
        inner.generations.retire(from);
        for (slot, death) in &removed {
            inner.notify(slot, death.cause());
        }
        drop(removed);
    }

    /// Entries held, including expired or invalidated ones not yet removed.
    pub fn entry_count(&self) -> u64 {
        self.inner.map.len() as u64
    }

    /// The total weight the eviction policy holds.
    pub fn weighted_size(&self) -> u64 {
        self.inner.policy.lock().policy.weighted_size()
    }

    /// The counters since the cache was built.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            coalesced: self.inner.groups.coalesced(),
            ..self.inner.stats.snapshot()
        }
    }
}

impl<K, V, C> Inner<K, V, C>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Clone + Send + Sync,
    C: Clock,
{
    /// The (soft, hard) deadlines of an entry written now.
    fn deadlines(&self, hard: Option<Duration>, soft: Option<Duration>) -> (Nanos, Nanos) {
        if hard.is_none() && soft.is_none() {
            return (Nanos::MAX, Nanos::MAX);
        }
        let now = self.clock.recent();
        let after = |d: Duration| now.saturating_add(Nanos::from_duration(d));
        let expires_at = hard.map_or(Nanos::MAX, after);
        (soft.map_or(expires_at, after), expires_at)
    }

    /// Takes `key`'s slot out of the map and the policy and reports it with
    /// `site`'s cause (or the death it had already died); returns it with
    /// the cause reported.
    fn remove_key<Q>(&self, key: &Q, site: RemovalCause) -> Option<(Slot<K, V>, RemovalCause)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_key_if(key, site, |_| true)
    }

    /// As [`remove_key`](Self::remove_key), only if `also` holds for the
    /// key's slot (checked under the shard's write lock, so no write can
    /// land between the check and the removal).
    fn remove_key_if<Q>(
        &self,
        key: &Q,
        site: RemovalCause,
        also: impl Fn(&Slot<K, V>) -> bool,
    ) -> Option<(Slot<K, V>, RemovalCause)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.map.hash(key);
        let mut state = self.policy.lock();
        self.drain(&mut state);
        let slot = self
            .map
            .remove_if(hash, |slot| slot.key.borrow() == key && also(slot))?;
        state.policy.remove(hash);
        drop(state);
        // Judged once: the listener may change what a second look says.
        let cause = self.removal_cause(&slot, site);
        self.notify(&slot, cause);
        Some((slot, cause))
    }

    /// Called by `write` for an `insert` of `hash`'s key before it writes
    /// and as soon as its slot is in the map (before any removal listener
    /// runs): if a load may be running, bumps the key's stripe so
    /// that the load does not cache its older value over this one.
    ///
    /// The handshake with `run_load` (`load.rs`), whose start increments
    /// `loads_running`, fences, then reads the stripe: the insert fences,
    /// then reads `loads_running`. Of the insert's read right after its
    /// slot lands and a starting load's read of the stripe, at least one
    /// sees the other side's write: if the insert sees no load running, a
    /// load that starts later reads state after this write, so caching
    /// over it is a later write; otherwise the stripe moves before any
    /// callback of this insert can let the load finish. A load that checks
    /// between the slot landing and the bump is racing this insert on
    /// another thread and goes after it, like any two racing writes. The
    /// call before the write moves the stripe early for loads already
    /// running (a weigher runs before the slot lands). An insert with no
    /// load running pays two fences and two reads of a line that only
    /// loads write.
    fn note_user_write(&self, hash: u64) {
        fence(Ordering::SeqCst);
        if self.loads_running.load(Ordering::Relaxed) > 0 {
            self.removal_stripe(hash).fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The removal counter of `hash`'s stripe.
    fn removal_stripe(&self, hash: u64) -> &AtomicU32 {
        &self.removals[(hash >> 58) as usize % REMOVAL_STRIPES]
    }

    /// The remove counter of `hash`'s stripe that loads' flights carry.
    fn detach_stripe(&self, hash: u64) -> &AtomicU32 {
        &self.detaches[(hash >> 58) as usize % REMOVAL_STRIPES]
    }

    /// Whether the slot may be served and is stale, or why not. May run
    /// `invalidate_if` predicates (never call it under a shard's write
    /// lock).
    #[inline]
    fn judge(&self, slot: &Slot<K, V>) -> Result<Freshness, Death> {
        self.judge_view(slot, slot.view())
    }

    /// [`judge`](Self::judge) with `slot`'s view already taken.
    #[inline]
    fn judge_view(&self, slot: &Slot<K, V>, view: View<'_, V>) -> Result<Freshness, Death> {
        if !self.generations.is_valid_view(slot, view) {
            // A slot found dead is never restamped: this is its stamp.
            let stamp = view.generation().load(Ordering::Relaxed);
            return Err(Death::Invalidated { stamp });
        }
        if !view.has_deadline() {
            return Ok(Freshness::Fresh);
        }
        match view.freshness(self.clock.recent()) {
            Freshness::Expired => Err(Death::Expired),
            live => Ok(live),
        }
    }

    /// Whether a removal listener is set: only then are removed slots
    /// judged for their cause (see `removal.rs`).
    fn listens(&self) -> bool {
        self.settings.removal_listener.is_some()
    }

    /// Why `slot` left the map: `live` (the removing site's cause) unless
    /// it was already dead. Judged right after the locks are released and
    /// before any listener runs, so that nothing a listener does (an
    /// `invalidate_all`, the time it takes) changes the answer.
    fn removal_cause(&self, slot: &Slot<K, V>, live: RemovalCause) -> RemovalCause {
        match self.judge(slot) {
            Ok(_) => live,
            Err(death) => death.cause(),
        }
    }

    /// Tells the removal listener, if there is one, that `slot` left the
    /// map for `cause`. Only called with no lock of the cache held: the
    /// listener may call back into the cache.
    fn notify(&self, slot: &Slot<K, V>, cause: RemovalCause) {
        if let (Some(listener), Some(value)) = (&self.settings.removal_listener, slot.value()) {
            listener(&slot.key, value, cause);
        }
    }

    /// The hit path: the shard's read lock, no allocation.
    #[inline]
    fn lookup<Q>(&self, key: &Q) -> Found<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.map.hash(key);
        // Read once for the shard's lock stripe, the stats stripe and the
        // ring.
        let thread = crate::sync::thread_index();
        let read = |slot: &Slot<K, V>| {
            let view = slot.view();
            let freshness = self.judge_view(slot, view)?;
            let report = self.hit_filter.admit(view.reported());
            Ok((view.value().cloned(), freshness, report))
        };
        match self
            .map
            .read_as(thread, hash, |slot| slot.key.borrow() == key, read)
        {
            Some(Ok((value, freshness, report))) => {
                self.stats.add_as(thread, Counter::Hit, 1);
                if report {
                    self.record_as(thread, hash, true);
                }
                return Found::Live {
                    value,
                    stale: freshness == Freshness::Stale,
                };
            }
            Some(Err(death)) => self.remove_dead(hash, death),
            None => {}
        }
        self.stats.add_as(thread, Counter::Miss, 1);
        self.record_as(thread, hash, false);
        Found::Absent
    }
}

#[cfg(all(test, not(loom)))]
mod concurrency_tests;
#[cfg(test)]
mod removal_tests;
#[cfg(test)]
mod tests;
