//! Keyed breakers: one [`CircuitBreaker`] per key (host, route, tenant),
//! created on first use, bounded in number.
//!
//! # Bounds and eviction
//!
//! The registry holds at most `capacity` breakers, spread over a few shards
//! (each a `RwLock<HashMap>`), each shard holding at most its share. When a
//! new key arrives at a full shard, the shard first drops every breaker idle
//! (not looked up) for longer than `idle_after`; if none is, it drops the one
//! least worth keeping: closed before open, open before forced-open, and the
//! least recently used among equals. A dropped breaker's state is lost, so
//! its key starts closed when it comes back; a call still holding a permit
//! of a dropped breaker finishes normally.
//!
//! # Hot path
//!
//! Looking up an existing key takes one shard read lock (no allocation, no
//! write unless the key's last-use stamp is more than `idle_after / 16`
//! old); creating a key takes the shard's write lock once.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::fmt;
use core::hash::Hash;
use core::time::Duration;
use std::collections::HashMap;

use super::{CircuitBreaker, Config, OwnedPermit, Rejected, Snapshot, State};
use crate::sync::{AtomicU64, CachePadded, Ordering, RwLock};
use crate::time::{Clock, Nanos, SystemClock};

mod config;

pub use config::{RegistryBuilder, RegistryConfigError};

type Hasher = ahash::RandomState;
type Shard<K, C> = CachePadded<RwLock<HashMap<K, Entry<C>, Hasher>>>;

struct Entry<C: Clock> {
    breaker: Arc<CircuitBreaker<C>>,
    /// Clock reading of the last lookup, refreshed at most every `stamp_every`.
    last_used: AtomicU64,
}

/// One circuit breaker per key, created on first use from one [`Config`],
/// at most `capacity` of them (idle ones are evicted first; see the
/// [module docs](self)).
///
/// Breakers are handed out as `Arc<CircuitBreaker<C>>`: keep one to watch a
/// key, or use the registry's own [`state`](Self::state),
/// [`snapshot`](Self::snapshot), [`force_open`](Self::force_open) and
/// [`reset`](Self::reset).
///
/// # Thread safety
///
/// `Send + Sync`; share it in an `Arc`. Lookups of different keys in
/// different shards never contend.
///
/// ```
/// use brace::breaker::registry::BreakerRegistry;
/// use brace::breaker::{Config, State};
/// use brace::time::ManualClock;
///
/// let config = Config::builder().consecutive_failures(1).build()?;
/// let hosts = BreakerRegistry::builder(config).capacity(1_000).build(ManualClock::new())?;
///
/// hosts.breaker("db-1").try_acquire().unwrap().record_failure();
/// assert_eq!(hosts.state("db-1"), Some(State::Open));
/// assert!(hosts.breaker("db-2").try_acquire().is_ok()); // other keys are unaffected
///
/// hosts.force_open("db-2");
/// assert_eq!(hosts.state("db-2"), Some(State::ForcedOpen));
/// hosts.reset("db-1");
/// assert_eq!(hosts.state("db-1"), Some(State::Closed));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BreakerRegistry<K, C: Clock = SystemClock> {
    shards: Box<[Shard<K, C>]>,
    hasher: Hasher,
    /// The most breakers held at once, split among the shards (see
    /// [`BreakerRegistry::shard_capacity`]).
    capacity: usize,
    idle_after: Nanos,
    stamp_every: u64,
    config: Config,
    clock: C,
}

impl BreakerRegistry<(), SystemClock> {
    /// A builder whose breakers all use `config`.
    pub fn builder(config: Config) -> RegistryBuilder {
        RegistryBuilder {
            config,
            capacity: 10_000,
            idle_after: Duration::from_secs(600),
        }
    }
}

impl<K, C> BreakerRegistry<K, C>
where
    K: Hash + Eq + Clone,
    C: Clock + Clone,
{
    fn shard_of<Q: Hash + ?Sized>(&self, key: &Q) -> &Shard<K, C> {
        &self.shards[self.shard_index(key)]
    }

    fn shard_index<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        self.hasher.hash_one(key) as usize % self.shards.len()
    }

    /// How many breakers shard `index` holds at most: an equal share of
    /// the capacity, the first `capacity % shards` shards one more.
    fn shard_capacity(&self, index: usize) -> usize {
        let n = self.shards.len();
        self.capacity / n + usize::from(index < self.capacity % n)
    }

    fn touch(&self, entry: &Entry<C>, now: Nanos) {
        let last = entry.last_used.load(Ordering::Relaxed);
        if now.as_u64().saturating_sub(last) >= self.stamp_every {
            entry.last_used.store(now.as_u64(), Ordering::Relaxed);
        }
    }

    /// The breaker for `key`, created if there is none.
    ///
    /// ```
    /// use brace::breaker::registry::BreakerRegistry;
    /// use brace::breaker::Config;
    /// use brace::time::ManualClock;
    /// use std::sync::Arc;
    ///
    /// let reg = BreakerRegistry::builder(Config::default()).build(ManualClock::new())?;
    /// let a = reg.breaker("tenant-7");
    /// let b = reg.breaker("tenant-7");
    /// assert!(Arc::ptr_eq(&a, &b));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn breaker<Q>(&self, key: &Q) -> Arc<CircuitBreaker<C>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let now = self.clock.now();
        let index = self.shard_index(key);
        let shard = &self.shards[index];
        if let Some(entry) = shard.read().get(key) {
            self.touch(entry, now);
            return Arc::clone(&entry.breaker);
        }
        let mut map = shard.write();
        if let Some(entry) = map.get(key) {
            self.touch(entry, now);
            return Arc::clone(&entry.breaker);
        }
        let limit = self.shard_capacity(index);
        if map.len() >= limit {
            self.make_room(&mut map, limit, now);
        }
        let breaker = Arc::new(CircuitBreaker::new(self.config.clone(), self.clock.clone()));
        map.insert(
            key.to_owned(),
            Entry {
                breaker: Arc::clone(&breaker),
                last_used: AtomicU64::new(now.as_u64()),
            },
        );
        breaker
    }

    /// A permit from `key`'s breaker (created if there is none): the hot
    /// path of a keyed call, one shard read lock and no allocation for a
    /// known key.
    ///
    /// # Errors
    ///
    /// [`Rejected`] when `key`'s breaker refuses the call.
    ///
    /// ```
    /// use brace::breaker::registry::BreakerRegistry;
    /// use brace::breaker::Config;
    /// use brace::time::ManualClock;
    ///
    /// let config = Config::builder().consecutive_failures(1).build()?;
    /// let reg = BreakerRegistry::builder(config).build(ManualClock::new())?;
    /// reg.try_acquire("eu-west").unwrap().record_failure();
    /// assert!(reg.try_acquire("eu-west").is_err());
    /// assert!(reg.try_acquire("us-east").is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_acquire<Q>(&self, key: &Q) -> Result<OwnedPermit<C>, Rejected>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        // The permit is taken after the shard's lock is released: taking it
        // can change the breaker's state and run its transition listener,
        // which may call back into this registry (evicting takes the
        // shard's write lock).
        let found = self.shard_of(key).read().get(key).map(|entry| {
            self.touch(entry, self.clock.now());
            Arc::clone(&entry.breaker)
        });
        found
            .unwrap_or_else(|| self.breaker(key))
            .try_acquire_owned()
    }

    /// The breaker for `key` if one exists; never creates one.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<CircuitBreaker<C>>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard_of(key)
            .read()
            .get(key)
            .map(|e| Arc::clone(&e.breaker))
    }

    /// The state of `key`'s breaker; `None` if it has none (a new key starts
    /// closed).
    pub fn state<Q>(&self, key: &Q) -> Option<State>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).map(|b| b.state())
    }

    /// A snapshot of `key`'s breaker; `None` if it has none.
    pub fn snapshot<Q>(&self, key: &Q) -> Option<Snapshot>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).map(|b| b.snapshot())
    }

    /// Opens `key`'s breaker by hand (creating it if needed) until
    /// [`reset`](Self::reset). Forced-open breakers are the last to be
    /// evicted.
    pub fn force_open<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.breaker(key).force_open();
    }

    /// Closes `key`'s breaker and clears its counts; returns whether the key
    /// had a breaker.
    pub fn reset<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.get(key) {
            Some(breaker) => {
                breaker.reset();
                true
            }
            None => false,
        }
    }

    /// Drops `key`'s breaker; returns whether it had one.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard_of(key).write().remove(key).is_some()
    }

    /// How many breakers the registry holds.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    /// Whether the registry holds no breaker.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most breakers the registry holds at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Every key with a snapshot of its breaker, for dashboards.
    pub fn snapshots(&self) -> Vec<(K, Snapshot)> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let map = shard.read();
            out.extend(map.iter().map(|(k, e)| (k.clone(), e.breaker.snapshot())));
        }
        out
    }

    /// Drops every breaker idle for longer than `idle_after` now; returns how
    /// many were dropped. Lookups do this by themselves when a shard is full;
    /// call it to free memory sooner.
    pub fn evict_idle(&self) -> usize {
        let now = self.clock.now();
        self.shards
            .iter()
            .map(|shard| {
                let mut map = shard.write();
                let before = map.len();
                self.retain_busy(&mut map, now);
                before - map.len()
            })
            .sum()
    }

    fn retain_busy(&self, map: &mut HashMap<K, Entry<C>, Hasher>, now: Nanos) {
        let idle_after = self.idle_after.as_u64();
        map.retain(|_, e| {
            now.as_u64()
                .saturating_sub(e.last_used.load(Ordering::Relaxed))
                < idle_after
                || e.breaker.state() == State::ForcedOpen
        });
    }

    /// Frees at least one slot in a full shard.
    fn make_room(&self, map: &mut HashMap<K, Entry<C>, Hasher>, limit: usize, now: Nanos) {
        self.retain_busy(map, now);
        if map.len() < limit {
            return;
        }
        let keep_rank = |e: &Entry<C>| {
            let rank = match e.breaker.state() {
                State::Closed | State::Disabled => 0u8,
                State::HalfOpen | State::Open => 1,
                State::ForcedOpen => 2,
            };
            (rank, e.last_used.load(Ordering::Relaxed))
        };
        let victim = map
            .iter()
            .min_by_key(|(_, e)| keep_rank(e))
            .map(|(k, _)| k.clone());
        if let Some(victim) = victim {
            map.remove(&victim);
        }
    }
}

impl<K, C: Clock> fmt::Debug for BreakerRegistry<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerRegistry")
            .field("shards", &self.shards.len())
            .field("capacity", &self.capacity)
            .field("idle_after", &self.idle_after)
            .finish_non_exhaustive()
    }
}
