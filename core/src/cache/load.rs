//! `get_or_load`: misses coalesced through single-flight, stale-while-
//! revalidate and stale-if-error, negative caching.
//!
//! One [`Group`] per (value shape, error type) pair lives in the cache,
//! created on first use and found by `TypeId` (a short read lock on the miss
//! path only; a fresh hit never gets here).

use core::any::{Any, TypeId};
use core::future::{Future, poll_fn, ready};
use core::hash::Hash;
use core::pin::pin;

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::RemovalCause;
use super::blocking::block_on;
use super::invalidation;
use super::slot::{Freshness, Slot};
use super::stats::Counter;
use super::writes::Writer;
use super::{Cache, Found, Inner};
use crate::singleflight::{Group, SingleFlightError};
use crate::sync::{Ordering, RwLock, fence};
// `Arc` here only shares immutable settings and the cache itself; it guards
// no protocol state, so it stays `alloc`'s under every cfg (loom's `Arc`
// cannot hold trait objects).
use crate::time::{Clock, Nanos};
use alloc::sync::Arc;

/// A group, type-erased, with the function that reads its coalesced
/// callers (the group's type is known only where it was made).
struct ErasedGroup {
    id: TypeId,
    group: Arc<dyn Any + Send + Sync>,
    coalesced: fn(&(dyn Any + Send + Sync)) -> u64,
}

/// The single-flight groups of one cache, one per `(T, E)`.
#[derive(Default)]
pub(super) struct Groups(RwLock<Vec<ErasedGroup>>);

impl core::fmt::Debug for Groups {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Groups")
            .field("count", &self.0.read().len())
            .finish()
    }
}

impl Groups {
    fn get<K, T, E>(&self) -> Arc<Group<K, T, E>>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        T: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let id = TypeId::of::<Group<K, T, E>>();
        let find = |groups: &[ErasedGroup]| {
            groups
                .iter()
                .find(|g| g.id == id)
                .and_then(|g| Arc::clone(&g.group).downcast::<Group<K, T, E>>().ok())
        };
        if let Some(group) = find(&self.0.read()) {
            return group;
        }
        let mut groups = self.0.write();
        if let Some(group) = find(&groups) {
            return group;
        }
        let group = Arc::new(Group::<K, T, E>::new());
        groups.push(ErasedGroup {
            id,
            group: Arc::clone(&group) as Arc<dyn Any + Send + Sync>,
            coalesced: |group| {
                group
                    .downcast_ref::<Group<K, T, E>>()
                    .map_or(0, |group| group.stats().coalesced)
            },
        });
        group
    }

    /// Callers that joined another caller's load, over every group.
    pub(super) fn coalesced(&self) -> u64 {
        self.0.read().iter().map(|g| (g.coalesced)(&*g.group)).sum()
    }
}

/// How a loader's output maps to cache entries and back.
pub(super) struct Shape<T, V> {
    /// What to store for a loaded `T`: `Some(Some(v))` a value,
    /// `Some(None)` a cached "not found", `None` nothing.
    store: fn(&T, negative_caching: bool) -> Option<Option<V>>,
    /// A cached entry as this caller's answer (`None`: not usable, load).
    answer: fn(Option<V>) -> Option<T>,
}

pub(super) fn plain<V: Clone>() -> Shape<V, V> {
    Shape {
        store: |v, _| Some(Some(v.clone())),
        answer: |entry| entry,
    }
}

pub(super) fn optional<V: Clone>() -> Shape<Option<V>, V> {
    Shape {
        store: |v, negative| match v {
            Some(v) => Some(Some(v.clone())),
            None if negative => Some(None),
            None => None,
        },
        answer: Some,
    }
}

/// Counts a load error if the loader panics (the single-flight group turns
/// the panic into `LeaderPanicked` for every caller): dropped while
/// `in_loader` during an unwind. A load dropped pending while its task
/// unwinds from some other panic is not counted.
struct PanicCounter<'a, K, V, C> {
    inner: &'a Inner<K, V, C>,
    in_loader: bool,
}

impl<K, V, C> Drop for PanicCounter<'_, K, V, C> {
    fn drop(&mut self) {
        if self.in_loader && std::thread::panicking() {
            self.inner.stats.add(Counter::LoadError, 1);
        }
    }
}

impl<K, V, C> Cache<K, V, C>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock + 'static,
{
    /// The cached value of `key`, or the value `loader` produces, stored
    /// with the cache's TTLs.
    ///
    /// * **Coalesced.** Concurrent callers that miss on one key share one
    ///   run of a loader: the first caller's. Everyone gets its value, or its
    ///   error as one shared `Arc<E>`.
    /// * **Stale-while-revalidate.** Past the soft TTL
    ///   ([`refresh_after`](super::CacheBuilder::refresh_after)) the cached
    ///   value is still served and one refresh runs: on the spawn hook when
    ///   one is configured (everyone gets the stale value at once), otherwise
    ///   in the first caller's future (it waits for the fresh value;
    ///   concurrent callers get the stale one).
    /// * **Stale-if-error.** If that refresh fails, the caller gets the stale
    ///   value, and it keeps being served (and refreshed) until the hard TTL.
    ///   It is judged again when the refresh fails: one that expired or was
    ///   invalidated meanwhile is not served, the error is returned.
    /// * **Racing writes.** A load that an `invalidate_all` or a matching
    ///   `invalidate_if` overtakes, or during which the key is `insert`ed,
    ///   still answers its callers but is not cached: what it read may be
    ///   what the invalidation was for, and the insert is newer. The same
    ///   for a `remove` of the key, or of a key that shares its removal
    ///   stripe (1 in 64), and for an `invalidate_if` whose predicate a
    ///   sweep ([`run_pending_tasks`](Self::run_pending_tasks)) dropped
    ///   before the load could ask it. Such a load touches nothing else:
    ///   a value written since, or the stale value a refresh was
    ///   replacing, stays. An `invalidate_if` that does not match the
    ///   loaded value keeps nothing out. A caller that comes after a
    ///   `remove` or an invalidation does not join a load that began
    ///   before it: it starts its own, so it never gets a value read
    ///   before the removal it followed.
    ///
    /// # Errors
    ///
    /// [`SingleFlightError::Failed`] with the loader's error,
    /// [`SingleFlightError::LeaderPanicked`] if the loader panicked (the key
    /// is not poisoned: the next call loads afresh).
    ///
    /// # Cancellation
    ///
    /// Dropping the future of the caller that runs the load hands the load
    /// to a waiting caller, who runs its own `loader`; nobody hangs.
    ///
    /// ```
    /// use brace::cache::Cache;
    /// use std::convert::Infallible;
    ///
    /// # brace_block_on(async {
    /// let cache = Cache::<u32, String>::builder().max_capacity(100).build()?;
    /// let v = cache.get_or_load(1, || async { Ok::<_, Infallible>("one".to_owned()) }).await;
    /// assert_eq!(v.as_deref(), Ok("one"));
    /// // Now cached: the loader is not called again.
    /// let v = cache.get_or_load(1, || async { Ok::<_, Infallible>(unreachable!()) }).await;
    /// assert_eq!(v.as_deref(), Ok("one"));
    /// assert_eq!(cache.stats().loads, 1);
    /// # Ok::<(), brace::cache::ConfigError>(())
    /// # })?;
    /// # fn brace_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// # Ok::<(), brace::cache::ConfigError>(())
    /// ```
    pub async fn get_or_load<E, F, Fut>(&self, key: K, loader: F) -> Result<V, SingleFlightError<E>>
    where
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
    {
        self.load(key, loader, plain()).await
    }

    /// Like [`get_or_load`](Self::get_or_load) for a loader that may find
    /// nothing: `Ok(None)` is cached for
    /// [`negative_ttl`](super::CacheBuilder::negative_ttl) when one is set
    /// (otherwise not cached), so repeated lookups of a missing key do not
    /// each reach the backend. A refresh of a stale value that finds nothing
    /// removes it (or caches the "not found").
    ///
    /// # Errors
    ///
    /// As [`get_or_load`](Self::get_or_load).
    ///
    /// # Cancellation
    ///
    /// As [`get_or_load`](Self::get_or_load).
    ///
    /// ```
    /// use brace::cache::Cache;
    /// use core::time::Duration;
    /// use std::convert::Infallible;
    ///
    /// # brace_block_on(async {
    /// let cache = Cache::<u32, String>::builder()
    ///     .max_capacity(100)
    ///     .negative_ttl(Duration::from_secs(5))
    ///     .build()?;
    /// let none = cache.get_or_load_optional(9, || async { Ok::<_, Infallible>(None) }).await;
    /// assert_eq!(none, Ok(None));
    /// // The "not found" is cached: this loader does not run.
    /// let again = cache
    ///     .get_or_load_optional(9, || async { Ok::<_, Infallible>(Some("x".to_owned())) })
    ///     .await;
    /// assert_eq!(again, Ok(None));
    /// assert_eq!(cache.stats().loads, 1);
    /// # Ok::<(), brace::cache::ConfigError>(())
    /// # })?;
    /// # fn brace_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// # Ok::<(), brace::cache::ConfigError>(())
    /// ```
    pub async fn get_or_load_optional<E, F, Fut>(
        &self,
        key: K,
        loader: F,
    ) -> Result<Option<V>, SingleFlightError<E>>
    where
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<V>, E>> + Send + 'static,
    {
        self.load(key, loader, optional()).await
    }

    async fn load<T, E, F, Fut>(
        &self,
        key: K,
        loader: F,
        shape: Shape<T, V>,
    ) -> Result<T, SingleFlightError<E>>
    where
        T: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let answer = shape.answer;
        let (flight, refresh) = match self.begin(&key, answer) {
            Begun::Answered(answer) => return Ok(answer),
            Begun::Miss(flight) => (flight, None),
            Begun::Refresh {
                stale,
                flight,
                claim,
            } => (flight, Some((stale, claim))),
        };
        let group = self.inner.groups.get::<FlightKey<K>, T, E>();
        let (cache, load_key) = (self.clone(), key.clone());
        let work = move || run_load(cache, load_key, loader, shape.store);
        let Some((stale, claim)) = refresh else {
            return group.work(flight, work).await;
        };
        if let Some(spawn) = &self.inner.settings.spawn {
            spawn(Box::pin(async move {
                // The outcome is already in the cache (or, on error, the
                // stale entry stays until its hard TTL). The claim goes when
                // this task ends or is dropped unpolled.
                let _claim = claim;
                let _ = group.work(flight, work).await;
            }));
            self.inner.stats.add(Counter::StaleServed, 1);
            return Ok(stale);
        }
        let outcome = group.work(flight, work).await;
        drop(claim);
        self.stale_if_error(&key, answer, outcome)
    }

    /// [`load`](Self::load) for a blocking `loader`, run on the calling
    /// thread (see [`get_with`](Self::get_with)): the calling thread waits
    /// for a load of the key that another caller runs, and a refresh past
    /// the soft TTL runs here too, never on the spawn hook.
    ///
    /// `serve_stale` is asked, after a refresh failed, whether this caller
    /// may be answered with the stale value (stale-if-error); `get_with`
    /// says no once its own `init` ran, so that a panic in it, or in the
    /// load after it, reaches its caller as documented.
    pub(super) fn load_blocking<T, E, F>(
        &self,
        key: &K,
        loader: F,
        shape: Shape<T, V>,
        serve_stale: impl FnOnce() -> bool,
    ) -> Result<T, SingleFlightError<E>>
    where
        T: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Result<T, E>,
    {
        let answer = shape.answer;
        // By reference: a hit clones no key.
        let (flight, claim) = match self.begin(key, answer) {
            Begun::Answered(answer) => return Ok(answer),
            Begun::Miss(flight) => (flight, None),
            Begun::Refresh { flight, claim, .. } => (flight, Some(claim)),
        };
        let group = self.inner.groups.get::<FlightKey<K>, T, E>();
        let (cache, load_key) = (self.clone(), key.clone());
        let work = move || run_load(cache, load_key, || ready(loader()), shape.store);
        let outcome = block_on(group.work(flight, work));
        match claim {
            None => outcome,
            Some(claim) => {
                drop(claim);
                if outcome.is_err() && !serve_stale() {
                    return outcome;
                }
                self.stale_if_error(key, answer, outcome)
            }
        }
    }

    /// What a load finds in the cache before it runs anything. The refresh
    /// claim is taken here, synchronously, not when a refresh's future is
    /// first polled: callers that come before a spawned refresh runs (or
    /// while another caller's refresh is between its check and its start)
    /// see it.
    fn begin<T>(&self, key: &K, answer: fn(Option<V>) -> Option<T>) -> Begun<T, K, V, C> {
        let stale = match self.inner.lookup(key) {
            Found::Live { value, stale } => match answer(value) {
                Some(answer) if !stale => return Begun::Answered(answer),
                usable => usable.filter(|_| stale),
            },
            Found::Absent => None,
        };
        let flight = (key.clone(), self.inner.flight_epoch(key));
        let Some(stale) = stale else {
            return Begun::Miss(flight);
        };
        // Past the soft TTL: serve `stale`, refresh once.
        let Some(claim) = RefreshClaim::take(self, self.inner.map.hash(key)) else {
            self.inner.stats.add(Counter::StaleServed, 1);
            return Begun::Answered(stale);
        };
        Begun::Refresh {
            stale,
            flight,
            claim,
        }
    }

    /// The answer to a caller whose refresh of a stale value ended with
    /// `outcome`: stale-if-error, judged again now, since the stale value
    /// may have passed its hard TTL or been invalidated while the refresh
    /// ran. A value written fresh meanwhile is served too, but is not
    /// counted as stale.
    fn stale_if_error<T, E>(
        &self,
        key: &K,
        answer: fn(Option<V>) -> Option<T>,
        outcome: Result<T, SingleFlightError<E>>,
    ) -> Result<T, SingleFlightError<E>> {
        let error = match outcome {
            Ok(fresh) => return Ok(fresh),
            Err(error) => error,
        };
        match self.inner.peek_judged(key) {
            Some((value, freshness)) => match answer(value) {
                Some(servable) => {
                    if freshness == Freshness::Stale {
                        self.inner.stats.add(Counter::StaleServed, 1);
                    }
                    Ok(servable)
                }
                None => Err(error),
            },
            None => Err(error),
        }
    }
}

/// Where [`Cache::begin`] leaves a load.
enum Begun<T, K, V, C> {
    /// Answered from the cache: a fresh value, or a stale one whose
    /// refresh another caller holds the claim to.
    Answered(T),
    /// Nothing usable cached: load under this flight key.
    Miss(FlightKey<K>),
    /// A stale value, and the claim to refresh it under this flight key.
    Refresh {
        stale: T,
        flight: FlightKey<K>,
        claim: RefreshClaim<K, V, C>,
    },
}

/// A load's single-flight key: the cache key and the epoch of removals and
/// invalidations it started in (see [`Inner::flight_epoch`]).
type FlightKey<K> = (K, u64);

/// What a load saw of its key before it called the loader.
struct LoadStart {
    /// The key's hash.
    hash: u64,
    /// The invalidation generation, and how many sweeps had retired
    /// predicates (`Generations::load_start`).
    generation: (u32, u32),
    /// The key's stripe of removes and inserts.
    removals: u32,
}

/// One load counted in `Inner::loads_running` while it lives.
struct LoadRunning<'a, K, V, C> {
    inner: &'a Inner<K, V, C>,
}

impl<'a, K, V, C> LoadRunning<'a, K, V, C> {
    fn start(inner: &'a Inner<K, V, C>) -> Self {
        inner.loads_running.fetch_add(1, Ordering::Relaxed);
        // Before the load reads its start (the other half of the handshake
        // in `Inner::note_user_write`).
        fence(Ordering::SeqCst);
        LoadRunning { inner }
    }
}

impl<K, V, C> Drop for LoadRunning<'_, K, V, C> {
    fn drop(&mut self) {
        self.inner.loads_running.fetch_sub(1, Ordering::Release);
    }
}

/// The right to run the one refresh of a stale key; given back on drop.
struct RefreshClaim<K, V, C> {
    cache: Cache<K, V, C>,
    hash: u64,
}

impl<K, V, C> RefreshClaim<K, V, C> {
    /// The claim on `hash`, unless another caller holds it.
    fn take(cache: &Cache<K, V, C>, hash: u64) -> Option<Self> {
        cache
            .inner
            .refreshing
            .lock()
            .insert(hash)
            .then(|| RefreshClaim {
                cache: cache.clone(),
                hash,
            })
    }
}

impl<K, V, C> Drop for RefreshClaim<K, V, C> {
    fn drop(&mut self) {
        self.cache.inner.refreshing.lock().remove(&self.hash);
    }
}

/// One load: call the loader, store what it returns.
async fn run_load<K, V, C, T, E, F, Fut>(
    cache: Cache<K, V, C>,
    key: K,
    loader: F,
    store: fn(&T, bool) -> Option<Option<V>>,
) -> Result<T, E>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Clone + Send + Sync,
    C: Clock,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let inner = &*cache.inner;
    inner.stats.add(Counter::Load, 1);
    // Counted as running before the start is read, and until the result
    // is stored or dropped (see `Inner::note_user_write`).
    let _running = LoadRunning::start(inner);
    // What the loader reads may predate any invalidation made while it
    // runs: the result is stored under the generation it started in.
    let hash = inner.map.hash(&key);
    let start = LoadStart {
        hash,
        generation: inner.generations.load_start(),
        removals: inner.removal_stripe(hash).load(Ordering::Acquire),
    };
    let mut panics = PanicCounter {
        inner,
        in_loader: true,
    };
    let mut future = pin!(loader());
    panics.in_loader = false;
    let result = poll_fn(|cx| {
        panics.in_loader = true;
        let polled = future.as_mut().poll(cx);
        panics.in_loader = false;
        polled
    })
    .await;
    drop(panics);
    match &result {
        Ok(loaded) => match store(loaded, inner.settings.negative_ttl.is_some()) {
            Some(entry) => inner.write_loaded(key, entry, &start),
            // Not found, and "not found" is not cached: a stale value the
            // load was refreshing is gone from the backend, so from here too
            // (reported as `Removed`).
            None => {
                if inner.peek(&key).is_some() && !inner.written_since(&start) {
                    inner.remove_refreshed_away(&key);
                }
            }
        },
        Err(_) => inner.stats.add(Counter::LoadError, 1),
    }
    result
}

impl<K, V, C> Inner<K, V, C>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Clone + Send + Sync,
    C: Clock,
{
    /// Stores what a load returned, stamped with the generation it started
    /// in, unless an invalidation since applies to it (the value may be
    /// what it invalidated: see `Generations::admits_load`, which runs any
    /// `invalidate_if` predicates registered since, outside the shard's
    /// lock) or the key was written meanwhile (that value is newer).
    /// Nothing else is touched: a newer value, or a still-valid stale one
    /// a refresh was replacing, stays.
    fn write_loaded(&self, key: K, entry: Option<V>, start: &LoadStart) {
        let Some(checked) = self
            .generations
            .admits_load(start.generation, &key, entry.as_ref())
        else {
            return;
        };
        let s = &self.settings;
        let (stale_at, expires_at): (Nanos, Nanos) = match entry {
            Some(_) => self.deadlines(s.time_to_live, s.refresh_after),
            None => self.deadlines(s.negative_ttl, None),
        };
        // Asked under the shard's write lock, where no insert or remove
        // can land between the answer and the write (one that starts later
        // writes after this, so the newer state stays). An invalidation
        // since the check above is not looked into: the value is not
        // cached. Nor is it over a slot stamped after the load started:
        // the value of a load that began after an invalidation this one
        // spanned (it did not join this one, see `flight_epoch`), or an
        // older entry a read found valid since (a reload at worst).
        let written_since = |resident: Option<&Slot<K, V>>| {
            self.generations.current() != checked
                || self.removal_stripe(start.hash).load(Ordering::Acquire) != start.removals
                || resident.is_some_and(|slot| {
                    invalidation::older(
                        start.generation.0,
                        slot.generation().load(Ordering::Acquire),
                    )
                })
        };
        self.write(
            key,
            entry,
            stale_at,
            expires_at,
            start.generation.0,
            Writer::Load(&written_since),
        );
    }

    /// The epoch a load of `key` starting now belongs to: the invalidation
    /// generation and the key's stripe of removes. Part of the load's
    /// single-flight key, so a caller that comes after a `remove` of the
    /// key (or of a key in its stripe, 1 in 64), an `invalidate_all` or an
    /// `invalidate_if` starts a fresh load instead of joining one that began
    /// before and may have read what was removed (its callers still get
    /// its value; it is not cached). Inserts do not move it (see
    /// `Inner::detaches`).
    fn flight_epoch(&self, key: &K) -> u64 {
        let removes = self
            .detach_stripe(self.map.hash(key))
            .load(Ordering::Acquire);
        u64::from(self.generations.current()) << 32 | u64::from(removes)
    }

    /// Whether the key was written since the load started: an
    /// invalidation came, or a `remove` or an `insert` in the key's stripe
    /// (an insert bumps the stripe whenever a load may be running; see
    /// `Inner::note_user_write`). For a refresh that found nothing. The
    /// write of a loaded value asks the same under the shard's write lock
    /// (`write_loaded`), where nothing can land between the answer and the
    /// write: asked before it alone, a loom model
    /// (`core/tests/loom_cache_load_insert.rs`) found a stale load
    /// overwriting an insert, and outliving a remove, that landed in
    /// between. An invalidation after the write applies to the value
    /// through its stamp, the load's start generation.
    fn written_since(&self, start: &LoadStart) -> bool {
        self.generations.current() != start.generation.0
            || self.removal_stripe(start.hash).load(Ordering::Acquire) != start.removals
    }

    /// A refresh found `key` gone from the backend: removes its entry as
    /// `remove` would, unless a write made it fresh since (the check is
    /// made under the shard's write lock).
    fn remove_refreshed_away(&self, key: &K) {
        let hash = self.map.hash(key);
        // As in `remove`: loads of the key running now do not cache what
        // they read before, and later callers do not join them.
        self.removal_stripe(hash).fetch_add(1, Ordering::AcqRel);
        self.detach_stripe(hash).fetch_add(1, Ordering::AcqRel);
        let now = self.clock.recent();
        let _ = self.remove_key_if(key, RemovalCause::Removed, |slot| {
            slot.freshness(now) != Freshness::Fresh
        });
    }

    /// The live entry under `key` (`Some(None)`: a cached "not found"),
    /// without counting a read or telling the policy.
    fn peek(&self, key: &K) -> Option<Option<V>> {
        self.peek_judged(key).map(|(value, _)| value)
    }

    /// [`peek`](Self::peek), with whether the entry is fresh or stale.
    fn peek_judged(&self, key: &K) -> Option<(Option<V>, Freshness)> {
        self.read_key(key, |slot| {
            let freshness = self.judge(slot).ok()?;
            Some((slot.value().cloned(), freshness))
        })
        .flatten()
    }

    /// `read` on `key`'s slot, if there is one (no stats, no policy).
    fn read_key<R>(&self, key: &K, read: impl FnOnce(&Slot<K, V>) -> R) -> Option<R> {
        self.map
            .read(self.map.hash(key), |slot| slot.key == *key, read)
    }
}
