//! Cache configuration: the builder and its validation.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::time::Duration;

use alloc::boxed::Box;

use super::Cache;
// `Arc` here only shares immutable settings and the cache itself; it guards
// no protocol state, so it stays `alloc`'s under every cfg (loom's `Arc`
// cannot hold trait objects).
use crate::time::{Clock, SystemClock};
use alloc::sync::Arc;

/// A boxed background task handed to the spawn hook.
pub type RefreshTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub(super) type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> u32 + Send + Sync>;
pub(super) type SpawnHook = Arc<dyn Fn(RefreshTask) + Send + Sync>;
use super::removal::{RemovalCause, RemovalListener};

/// A cache setting that was refused by [`CacheBuilder::build`].
///
/// ```
/// use brace::cache::{Cache, ConfigError};
///
/// let err = Cache::<u32, u32>::builder().max_capacity(0).build().unwrap_err();
/// assert_eq!(err, ConfigError::ZeroCapacity);
/// assert_eq!(err.to_string(), "max_capacity must be at least 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_capacity` was never set; an unbounded cache is a memory leak.
    MissingCapacity,
    /// `max_capacity` was 0.
    ZeroCapacity,
    /// `time_to_live` was zero: nothing could ever be served.
    ZeroTimeToLive,
    /// `refresh_after` was zero: every read would refresh.
    ZeroRefreshAfter,
    /// `refresh_after` (soft TTL) was not below `time_to_live` (hard TTL).
    RefreshAfterNotBelowTimeToLive {
        /// The soft TTL given.
        refresh_after: Duration,
        /// The hard TTL given.
        time_to_live: Duration,
    },
    /// `negative_ttl` was zero.
    ZeroNegativeTtl,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingCapacity => f.write_str("max_capacity must be set"),
            ConfigError::ZeroCapacity => f.write_str("max_capacity must be at least 1"),
            ConfigError::ZeroTimeToLive => f.write_str("time_to_live must be above zero"),
            ConfigError::ZeroRefreshAfter => f.write_str("refresh_after must be above zero"),
            ConfigError::RefreshAfterNotBelowTimeToLive {
                refresh_after,
                time_to_live,
            } => write!(
                f,
                "refresh_after ({refresh_after:?}) must be below time_to_live ({time_to_live:?})"
            ),
            ConfigError::ZeroNegativeTtl => f.write_str("negative_ttl must be above zero"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Validated settings shared by every handle of one cache.
pub(super) struct Settings<K, V> {
    pub(super) max_capacity: u64,
    pub(super) weigher: Option<Weigher<K, V>>,
    pub(super) time_to_live: Option<Duration>,
    pub(super) refresh_after: Option<Duration>,
    pub(super) negative_ttl: Option<Duration>,
    pub(super) spawn: Option<SpawnHook>,
    pub(super) removal_listener: Option<RemovalListener<K, V>>,
}

impl<K, V> fmt::Debug for Settings<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("max_capacity", &self.max_capacity)
            .field("weigher", &self.weigher.is_some())
            .field("time_to_live", &self.time_to_live)
            .field("refresh_after", &self.refresh_after)
            .field("negative_ttl", &self.negative_ttl)
            .field("spawn", &self.spawn.is_some())
            .field("removal_listener", &self.removal_listener.is_some())
            .finish()
    }
}

/// Builds a [`Cache`]; every setting is checked by [`build`](Self::build).
///
/// ```
/// use brace::cache::Cache;
/// use core::time::Duration;
///
/// let cache = Cache::<String, u64>::builder()
///     .max_capacity(10_000)
///     .time_to_live(Duration::from_secs(60))
///     .refresh_after(Duration::from_secs(45))
///     .build()?;
/// cache.insert("a".to_owned(), 1);
/// assert_eq!(cache.get("a"), Some(1));
/// # Ok::<(), brace::cache::ConfigError>(())
/// ```
pub struct CacheBuilder<K, V, C = SystemClock> {
    max_capacity: Option<u64>,
    weigher: Option<Weigher<K, V>>,
    time_to_live: Option<Duration>,
    refresh_after: Option<Duration>,
    negative_ttl: Option<Duration>,
    spawn: Option<SpawnHook>,
    removal_listener: Option<RemovalListener<K, V>>,
    clock: C,
    _types: PhantomData<fn(K, V)>,
}

impl<K, V, C: fmt::Debug> fmt::Debug for CacheBuilder<K, V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("max_capacity", &self.max_capacity)
            .field("time_to_live", &self.time_to_live)
            .field("refresh_after", &self.refresh_after)
            .field("negative_ttl", &self.negative_ttl)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl<K, V> CacheBuilder<K, V, SystemClock> {
    pub(super) fn new() -> Self {
        CacheBuilder {
            max_capacity: None,
            weigher: None,
            time_to_live: None,
            refresh_after: None,
            negative_ttl: None,
            spawn: None,
            removal_listener: None,
            clock: SystemClock::new(),
            _types: PhantomData,
        }
    }
}

impl<K, V, C> CacheBuilder<K, V, C> {
    /// The most total weight the cache holds (entries, unless a
    /// [`weigher`](Self::weigher) is set). Required.
    pub fn max_capacity(mut self, capacity: u64) -> Self {
        self.max_capacity = Some(capacity);
        self
    }

    /// Weighs each entry (default: every entry weighs 1). A weight of 0 is
    /// counted as 1.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Arc::new(weigher));
        self
    }

    /// Hard TTL: an entry is never returned once this long has passed since
    /// it was written. Default: no expiry.
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.time_to_live = Some(ttl);
        self
    }

    /// Soft TTL: past it, `get_or_load` still serves the entry but refreshes
    /// it once (stale-while-revalidate); a failed refresh keeps the old value
    /// until the hard TTL (stale-if-error). Must be below `time_to_live`.
    ///
    /// The hard deadline is kept to the nanosecond; the soft one is stored
    /// as its distance before the hard one in 16 bits, so an entry may turn
    /// stale up to 0.1% of `time_to_live - refresh_after` early (never
    /// late): with a 1 h soft and 1 day hard TTL, up to 81 s early. Spans
    /// under 2 µs are exact.
    pub fn refresh_after(mut self, soft_ttl: Duration) -> Self {
        self.refresh_after = Some(soft_ttl);
        self
    }

    /// Caches a loader's "not found" (`Ok(None)`) for this long. Default:
    /// not cached.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = Some(ttl);
        self
    }

    /// Runs refreshes in the background: `spawn` receives each refresh task
    /// (for example `|task| { tokio::spawn(task); }`). Without it, the first
    /// caller that finds a stale entry refreshes it in its own future.
    pub fn spawn_hook(mut self, spawn: impl Fn(RefreshTask) + Send + Sync + 'static) -> Self {
        self.spawn = Some(Arc::new(spawn));
        self
    }

    /// Calls `listener(key, value, cause)` for every entry that leaves the
    /// cache: evicted, expired, invalidated, removed, or replaced by a newer
    /// value (see [`RemovalCause`]). Default: none.
    ///
    /// The listener runs on the thread whose call removed the entry, after
    /// the cache has released its locks, so it may call back into the
    /// cache. Entries are reported when they physically leave: an entry
    /// invalidated by [`invalidate_all`](Cache::invalidate_all) or expired
    /// is reported when a read, a write or
    /// [`run_pending_tasks`](Cache::run_pending_tasks) removes it, as
    /// [`Invalidated`](RemovalCause::Invalidated) or
    /// [`Expired`](RemovalCause::Expired) even if a write evicted or
    /// replaced it (an entry both expired and invalidated by a predicate
    /// may be reported either way). Causes are settled when the entries
    /// leave, before the listener runs. Cached "not found" entries (see
    /// [`negative_ttl`](Self::negative_ttl)) have no value and are not
    /// reported, nor are the entries still held when the last handle of
    /// the cache is dropped.
    ///
    /// A value that [`get_or_load`](Cache::get_or_load) stores is written
    /// from inside the key's load, so what that write removes is reported
    /// while the load is still in flight: a listener must not wait on
    /// `get_or_load` of that key (it would wait on itself).
    ///
    /// # Panics
    ///
    /// A panic in the listener reaches the caller whose call removed the
    /// entry; the cache stays consistent, and other entries that call
    /// removed are dropped without being reported. Inside `get_or_load`'s
    /// load it is caught as a panic of that load, as a panicking loader's
    /// would be (callers waiting on it get
    /// [`LeaderPanicked`](crate::singleflight::SingleFlightError), a stale
    /// refresh keeps serving the stale value), although the loaded value
    /// is stored.
    ///
    /// ```
    /// use brace::cache::{Cache, RemovalCause};
    /// use std::sync::{Arc, Mutex};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let cache = Cache::<u32, String>::builder()
    ///     .max_capacity(100)
    ///     .removal_listener(move |key: &u32, value: &String, cause| {
    ///         log.lock().unwrap().push((*key, value.clone(), cause));
    ///     })
    ///     .build()?;
    /// cache.insert(1, "one".to_owned());
    /// cache.insert(1, "uno".to_owned());
    /// cache.remove(&1);
    /// assert_eq!(
    ///     *seen.lock().unwrap(),
    ///     [
    ///         (1, "one".to_owned(), RemovalCause::Replaced),
    ///         (1, "uno".to_owned(), RemovalCause::Removed),
    ///     ]
    /// );
    /// # Ok::<(), brace::cache::ConfigError>(())
    /// ```
    pub fn removal_listener(
        mut self,
        listener: impl Fn(&K, &V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.removal_listener = Some(Arc::new(listener));
        self
    }

    /// Reads time from `clock` instead of the system clock (tests pass a
    /// [`ManualClock`](crate::time::ManualClock)).
    pub fn clock<C2: Clock>(self, clock: C2) -> CacheBuilder<K, V, C2> {
        CacheBuilder {
            max_capacity: self.max_capacity,
            weigher: self.weigher,
            time_to_live: self.time_to_live,
            refresh_after: self.refresh_after,
            negative_ttl: self.negative_ttl,
            spawn: self.spawn,
            removal_listener: self.removal_listener,
            clock,
            _types: PhantomData,
        }
    }

    /// Checks the settings and builds the cache.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting that is missing or out of
    /// range.
    pub fn build(self) -> Result<Cache<K, V, C>, ConfigError>
    where
        C: Clock,
    {
        let max_capacity = self.max_capacity.ok_or(ConfigError::MissingCapacity)?;
        if max_capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        if self.time_to_live == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroTimeToLive);
        }
        if self.refresh_after == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroRefreshAfter);
        }
        if let (Some(refresh_after), Some(time_to_live)) = (self.refresh_after, self.time_to_live)
            && refresh_after >= time_to_live
        {
            return Err(ConfigError::RefreshAfterNotBelowTimeToLive {
                refresh_after,
                time_to_live,
            });
        }
        if self.negative_ttl == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroNegativeTtl);
        }
        let settings = Settings {
            max_capacity,
            weigher: self.weigher,
            time_to_live: self.time_to_live,
            refresh_after: self.refresh_after,
            negative_ttl: self.negative_ttl,
            spawn: self.spawn,
            removal_listener: self.removal_listener,
        };
        Ok(Cache::from_settings(settings, self.clock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn builder() -> CacheBuilder<u32, u32> {
        Cache::<u32, u32>::builder().max_capacity(8)
    }

    #[test]
    fn every_bad_setting_is_named() {
        let missing = Cache::<u32, u32>::builder().build().unwrap_err();
        assert_eq!(missing, ConfigError::MissingCapacity);
        let s = Duration::from_secs(1);
        let cases = [
            (builder().max_capacity(0), ConfigError::ZeroCapacity),
            (
                builder().time_to_live(Duration::ZERO),
                ConfigError::ZeroTimeToLive,
            ),
            (
                builder().refresh_after(Duration::ZERO),
                ConfigError::ZeroRefreshAfter,
            ),
            (
                builder().negative_ttl(Duration::ZERO),
                ConfigError::ZeroNegativeTtl,
            ),
            (
                builder().time_to_live(s).refresh_after(s),
                ConfigError::RefreshAfterNotBelowTimeToLive {
                    refresh_after: s,
                    time_to_live: s,
                },
            ),
        ];
        for (b, want) in cases {
            let err = b.build().unwrap_err();
            assert_eq!(err, want);
            assert!(!err.to_string().is_empty());
        }
        assert!(
            builder()
                .time_to_live(2 * s)
                .refresh_after(s)
                .build()
                .is_ok()
        );
    }
}
