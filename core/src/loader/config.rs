//! Building a loader: batch size, yields, optional `max_wait`, cache.

use alloc::boxed::Box;
use core::fmt;
use core::future::Future;
use core::hash::Hash;
use core::marker::PhantomData;
use core::pin::Pin;
use core::time::Duration;

use super::error::ConfigError;
use super::{BatchFn, BatchLoader};
use crate::metrics::{Outcome, Red};
use crate::time::{Clock, Nanos, Sleeper};
use alloc::sync::Arc;

/// A future the leader waits on (a yield or the `max_wait` sleep), boxed so
/// the loader's type does not name the runtime.
pub(crate) type BoxedWait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The default largest batch.
pub const DEFAULT_MAX_BATCH_SIZE: usize = 1000;
/// The default number of yields in a row that must add no key before the
/// leader sends.
pub const DEFAULT_YIELDS: u32 = 2;
/// The most quiet yields a loader may be configured to wait for: a yield
/// costs the executor a pass over its ready tasks, so more is a long
/// stall, not the end of a tick (use `max_wait` to wait longer).
pub const MAX_YIELDS: u32 = 1024;

/// The `max_wait` bound: its duration and a sleeper to time it.
pub(crate) struct MaxWait {
    pub(crate) duration: Duration,
    sleep: Box<dyn Fn(Duration) -> BoxedWait + Send + Sync>,
}

impl MaxWait {
    pub(crate) fn start(&self) -> BoxedWait {
        (self.sleep)(self.duration)
    }
}

/// Where batch calls are recorded ([`LoaderBuilder::record_calls`]): a
/// RED window behind its own clock, the clock's type erased.
pub(crate) trait RecordCall: Send + Sync {
    /// A reading of the recorder's clock, taken as a call starts.
    fn start(&self) -> Nanos;
    /// Records a call that started at `started` and ended now.
    fn finish(&self, started: Nanos, outcome: Outcome);
}

impl<C: Clock> RecordCall for Red<C> {
    fn start(&self) -> Nanos {
        self.clock().now()
    }

    fn finish(&self, started: Nanos, outcome: Outcome) {
        let now = self.clock().now();
        self.record_nanos_at(now, now.saturating_sub(started).as_u64(), outcome);
    }
}

/// A validated configuration.
pub(crate) struct Settings {
    pub(crate) max_batch_size: usize,
    pub(crate) yields: u32,
    pub(crate) max_wait: Option<MaxWait>,
    pub(crate) yield_with: Option<Box<dyn Fn() -> BoxedWait + Send + Sync>>,
    pub(crate) calls: Option<Arc<dyn RecordCall>>,
    pub(crate) hold_stragglers: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            yields: DEFAULT_YIELDS,
            max_wait: None,
            yield_with: None,
            calls: None,
            hold_stragglers: true,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("max_batch_size", &self.max_batch_size)
            .field("yields", &self.yields)
            .field("max_wait", &self.max_wait.as_ref().map(|w| w.duration))
            .field("yield_with", &self.yield_with.is_some())
            .field("record_calls", &self.calls.is_some())
            .field("hold_stragglers", &self.hold_stragglers)
            .finish()
    }
}

/// Configures a [`BatchLoader`]; from [`BatchLoader::builder`].
///
/// | setting | default | meaning |
/// |---|---|---|
/// | `max_batch_size` | 1000 | a batch is sent as soon as it has this many keys |
/// | `yields` | 2 | the leader sends after this many yields in a row added no key (more after a late key; see [`yields`](LoaderBuilder::yields)) |
/// | `yield_with` | wake self, return `Pending` once | how the leader yields to the executor |
/// | `max_wait` | none | send at the latest this long after the leader starts waiting |
/// | `hold_stragglers` | on | a batch waits for the previous not-full batch's call to return |
/// | `cache` | off | keep loaded values; see [`BatchLoader::prime`] |
/// | `record_calls` | none | time every batch call into a metrics [`Red`] window |
///
/// ```
/// use brace::loader::{BatchFn, BatchLoader};
/// use brace::time::ManualClock;
/// use std::collections::HashMap;
/// use std::time::Duration;
///
/// struct Squares;
/// impl BatchFn<u64> for Squares {
///     type Value = u64;
///     type Error = std::convert::Infallible;
///     type Output = HashMap<u64, u64>;
///     async fn load(&self, keys: &[u64]) -> Result<Self::Output, Self::Error> {
///         Ok(keys.iter().map(|&k| (k, k * k)).collect())
///     }
/// }
///
/// let loader = BatchLoader::builder(Squares)
///     .max_batch_size(100)
///     .yields(3)
///     .max_wait(Duration::from_millis(2), ManualClock::new())
///     .cache(true)
///     .build()
///     .expect("valid configuration");
/// assert_eq!(loader.pending_keys(), 0);
/// ```
pub struct LoaderBuilder<K, F> {
    batch_fn: F,
    settings: Settings,
    max_wait_zero: bool,
    cache: bool,
    _keys: PhantomData<fn(K)>,
}

impl<K, F> fmt::Debug for LoaderBuilder<K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoaderBuilder")
            .field("settings", &self.settings)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl<K, F> LoaderBuilder<K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    pub(crate) fn new(batch_fn: F) -> Self {
        LoaderBuilder {
            batch_fn,
            settings: Settings::default(),
            max_wait_zero: false,
            cache: false,
            _keys: PhantomData,
        }
    }

    /// Sends a batch as soon as it holds `keys` distinct keys (at least 1).
    pub fn max_batch_size(mut self, keys: usize) -> Self {
        self.settings.max_batch_size = keys;
        self
    }

    /// The leader sends after `yields` yields in a row brought no new key,
    /// or more while keys keep arriving late: once a key arrived during the
    /// `g`-th yield of a quiet run, the leader waits for `2g` quiet yields
    /// in a row (the largest such `g` so far; at most 64 yields, or
    /// `yields` if that is more). A wave that trickles in is thus not cut
    /// at its first pause; a batch whose keys all arrive before the first
    /// yield waits exactly `yields`. `0` sends
    /// at the leader's first poll: only the keys added before it (by the
    /// same task, e.g. a `join_all`, or by racing threads) share it.
    ///
    /// Loads made by one task (`join_all`) need no more than the default.
    /// Where every item is its own task on a multi-threaded runtime, more
    /// quiet yields let the other worker's share of the wave arrive: with
    /// `yield_with(tokio::task::yield_now)` on 2 tokio workers, `yields(16)`
    /// made 1.02–1.07 batch calls per level over 100-request runs where
    /// `yields(4)` made 1.11–1.23 on the same machine
    /// (`core/tests/loader_spawn.rs`), at the same request rate in
    /// `compare loader`. At most [`MAX_YIELDS`]: `build` refuses more.
    pub fn yields(mut self, yields: u32) -> Self {
        self.settings.yields = yields;
        self
    }

    /// Replaces the default yield (wake self, return `Pending` once) with
    /// the executor's own, e.g. `tokio::task::yield_now`, which on tokio also
    /// lets the worker pick up tasks from other workers before resuming.
    pub fn yield_with<W, Fut>(mut self, yield_now: W) -> Self
    where
        W: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.settings.yield_with = Some(Box::new(move || Box::pin(yield_now()) as BoxedWait));
        self
    }

    /// Whether a batch whose tick is over waits for the call of an earlier
    /// batch that went out before it was full (on by default).
    ///
    /// On, the loads of one wave that the scheduler split (a worker that
    /// ran its share of spawned tasks late) make at most one more batch:
    /// the late ones gather until the first call returns, then go out
    /// together. The price is latency under concurrency: when many
    /// requests load at once, each batch waits for the one before it, so
    /// batches grow (and a backend that costs time per key answers them
    /// later). Off, every batch goes out at the end of its own tick: more,
    /// smaller batches, sooner.
    ///
    /// On, only the earlier call's leader (the `Load` future that sent it)
    /// can finish that call. A task that keeps such a future but stops
    /// polling it (it gave up on it with a timeout over `&mut load`, say)
    /// and then awaits a new load of the same loader waits for itself
    /// unless `max_wait` is set: drop a load you stop polling, or set
    /// `max_wait`, or turn this off. A batch function that loads (from
    /// this loader or another, a tree whose children are loaded by the same
    /// loader) is safe when it awaits those loads itself: a batch holding
    /// a key that a batch call awaits never holds, whoever leads it. One
    /// that hands them to a spawned task and awaits its handle has the
    /// same hazard as above.
    ///
    /// Measured with `compare loader` (2 tokio workers; its `brace-unheld`
    /// row, one full run, rates against the default in the same run): with
    /// a backend of 200 µs + 1 µs per key, off served 1.10x the requests
    /// per second at 16 requests at a time with `join_all` (0.36 batch
    /// calls per request against 0.29), 1.08x for one request with a task
    /// per item (3.35 calls per request against 2.34), and the same within
    /// 4% at 64; with a zero-latency backend, where the loader's own work is
    /// the cost, off served 0.78x and 0.74x at 16 and 64 with `join_all`.
    /// Keep the default unless the backend's latency dominates and more,
    /// smaller batches are welcome.
    ///
    /// ```
    /// use brace::loader::{BatchFn, BatchLoader};
    /// use std::collections::HashMap;
    ///
    /// struct Ids;
    /// impl BatchFn<u32> for Ids {
    ///     type Value = u32;
    ///     type Error = std::convert::Infallible;
    ///     type Output = HashMap<u32, u32>;
    ///     async fn load(&self, keys: &[u32]) -> Result<Self::Output, Self::Error> {
    ///         Ok(keys.iter().map(|&k| (k, k)).collect())
    ///     }
    /// }
    ///
    /// // Latency first: many concurrent requests, a backend that is slower
    /// // per key than per call.
    /// let loader = BatchLoader::builder(Ids).hold_stragglers(false).build()?;
    /// assert_eq!(futures_executor::block_on(loader.load(7)).ok(), Some(Some(7)));
    /// # Ok::<(), brace::loader::ConfigError>(())
    /// ```
    pub fn hold_stragglers(mut self, hold: bool) -> Self {
        self.settings.hold_stragglers = hold;
        self
    }

    /// Sends a batch at the latest `max_wait` after its leader starts waiting
    /// (restarted if the leader is dropped and another caller takes over),
    /// timed by `sleeper`.
    pub fn max_wait<S>(mut self, max_wait: Duration, sleeper: S) -> Self
    where
        S: Sleeper + Send + Sync + 'static,
        S::Sleep: Send + 'static,
    {
        self.max_wait_zero = max_wait.is_zero();
        self.settings.max_wait = Some(MaxWait {
            duration: max_wait,
            sleep: Box::new(move |d| Box::pin(sleeper.sleep(d)) as BoxedWait),
        });
        self
    }

    /// Records every call of the batch function into `red`: its duration
    /// (read on `red`'s clock) and whether it failed (an `Err` from the
    /// batch function, or a panic). `red.snapshot()` then gives the
    /// loader's calls per second, error rate and call-latency quantiles over
    /// the window, and [`metrics::prometheus`](crate::metrics::prometheus)
    /// exports them. A call abandoned because its leader was dropped is not
    /// recorded; the call that replaces it is.
    ///
    /// ```
    /// use brace::loader::{BatchFn, BatchLoader};
    /// use brace::metrics::{Red, WindowConfig};
    /// use brace::time::ManualClock;
    /// use std::collections::HashMap;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// /// A backend that takes 3 ms (on the test's clock) per call.
    /// struct Slow(ManualClock);
    /// impl BatchFn<u32> for Slow {
    ///     type Value = u32;
    ///     type Error = std::convert::Infallible;
    ///     type Output = HashMap<u32, u32>;
    ///     async fn load(&self, keys: &[u32]) -> Result<Self::Output, Self::Error> {
    ///         self.0.advance(Duration::from_millis(3));
    ///         Ok(keys.iter().map(|&k| (k, k + 1)).collect())
    ///     }
    /// }
    ///
    /// let clock = ManualClock::new();
    /// let calls = Arc::new(Red::new(WindowConfig::default(), clock.clone()));
    /// let loader = BatchLoader::builder(Slow(clock))
    ///     .record_calls(Arc::clone(&calls))
    ///     .build()?;
    /// futures_executor::block_on(loader.load_many([1, 2, 3]));
    /// let s = calls.snapshot();
    /// assert_eq!((s.count(), s.errors()), (1, 0));
    /// assert_eq!(s.max(), Some(Duration::from_millis(3)));
    /// # Ok::<(), brace::loader::ConfigError>(())
    /// ```
    pub fn record_calls<C>(mut self, red: Arc<Red<C>>) -> Self
    where
        C: Clock + 'static,
    {
        self.settings.calls = Some(red as Arc<dyn RecordCall>);
        self
    }

    /// Keeps every loaded value in a per-loader cache (off by default).
    pub fn cache(mut self, enabled: bool) -> Self {
        self.cache = enabled;
        self
    }

    /// Validates the configuration and builds the loader.
    ///
    /// # Errors
    ///
    /// [`ConfigError::MaxBatchSizeZero`], [`ConfigError::MaxWaitZero`] or
    /// [`ConfigError::TooManyYields`].
    pub fn build(self) -> Result<BatchLoader<K, F>, ConfigError> {
        if self.settings.max_batch_size == 0 {
            return Err(ConfigError::MaxBatchSizeZero);
        }
        if self.settings.yields > MAX_YIELDS {
            return Err(ConfigError::TooManyYields);
        }
        if self.max_wait_zero {
            return Err(ConfigError::MaxWaitZero);
        }
        Ok(BatchLoader::from_parts(
            self.batch_fn,
            self.settings,
            self.cache,
        ))
    }
}
