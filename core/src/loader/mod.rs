//! A batch loader (DataLoader): the loads made while a request resolves
//! become one call of a batch function, one batch per tick.
//!
//! The N+1 problem: listing 100 posts with their authors makes 101 queries.
//! With a [`BatchLoader`], every `load(author_id)` made in the same tick (by
//! one task's `join_all`, or by tasks spawned on other worker threads) joins
//! one batch, and the backend sees one `IN (...)` query.
//!
//! # How a batch goes out
//!
//! * The first caller of a batch is its **leader**; it drives the batch in
//!   its own future (nothing is spawned, any executor works). It yields to
//!   the executor until [`yields`](LoaderBuilder::yields) yields in a row
//!   added no key (the end of the tick), then calls the batch function.
//! * The batch goes at once when it reaches
//!   [`max_batch_size`](LoaderBuilder::max_batch_size), and at the latest
//!   after [`max_wait`](LoaderBuilder::max_wait) if one is set.
//! * If an earlier batch that went out before it was full is still being
//!   loaded when the tick ends, the new batch keeps collecting until that
//!   call returns (unless it fills up or `max_wait` elapses first). A wave
//!   of loads that the scheduler split (a worker preempted while spawning
//!   tasks) so becomes at most one extra batch rather than many fragments,
//!   and a busy loader sends fewer, larger batches.
//! * A key appears once per batch; loading a key that is already in flight
//!   joins that flight.
//!
//! # Cancellation
//!
//! Dropping a `load` future is always safe. If it led its batch, another
//! caller waiting on the batch takes over (re-sending the call if it was
//! running). If every caller of a batch is dropped, the batch is cancelled
//! and its keys leave the in-flight map: nothing leaks, nothing hangs
//! ([`pending_keys`](BatchLoader::pending_keys) and
//! [`in_flight_batches`](BatchLoader::in_flight_batches) show it).
//!
//! # Request-scoped caching (GraphQL)
//!
//! Values change, so a long-lived cache of them is a staleness bug waiting
//! to happen. The usual pattern is **one loader per request**, cache on:
//! within a request the same author is loaded once, and the next request
//! sees fresh data. The loader is cheap to build (one allocation) and is
//! put in the request's context:
//!
//! ```
//! use brace::loader::{BatchFn, BatchLoader};
//! use std::collections::HashMap;
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! struct AuthorsById {
//!     queries: Arc<AtomicUsize>,
//! }
//!
//! impl BatchFn<u32> for AuthorsById {
//!     type Value = String;
//!     type Error = std::io::Error;
//!     type Output = HashMap<u32, String>;
//!     async fn load(&self, ids: &[u32]) -> Result<Self::Output, Self::Error> {
//!         self.queries.fetch_add(1, Ordering::Relaxed); // SELECT ... WHERE id IN (ids)
//!         Ok(ids.iter().map(|&id| (id, format!("author {id}"))).collect())
//!     }
//! }
//!
//! /// Built at the start of each request, dropped at its end.
//! fn request_loader(queries: &Arc<AtomicUsize>) -> BatchLoader<u32, AuthorsById> {
//!     let authors = AuthorsById { queries: Arc::clone(queries) };
//!     BatchLoader::builder(authors).cache(true).build().expect("valid configuration")
//! }
//!
//! let queries = Arc::new(AtomicUsize::new(0));
//! futures_executor::block_on(async {
//!     let loader = request_loader(&queries);
//!     // 100 posts by 10 authors, resolved concurrently: one query.
//!     let posts = (0..100u32).map(|post| loader.load(post % 10));
//!     let authors = futures_util::future::join_all(posts).await;
//!     assert_eq!(authors[13].as_ref().unwrap().as_deref(), Some("author 3"));
//!     // Later in the same request: answered from the request's cache.
//!     assert_eq!(loader.load(3).await.unwrap().as_deref(), Some("author 3"));
//! });
//! assert_eq!(queries.load(Ordering::Relaxed), 1);
//! ```
//!
//! A loader shared by all requests (to share in-flight batches between
//! them) should keep its cache off, or call [`clear_all`](BatchLoader::clear_all)
//! / [`clear`](BatchLoader::clear) when the data changes.
//!
//! # Observability
//!
//! [`BatchLoader::stats`] counts batches sent, keys sent, restarts,
//! cancellations, panics, and a power-of-two histogram of batch sizes (the
//! loader's own counters: since the loader's start, no window).
//! [`LoaderBuilder::record_calls`] also records every batch call into a
//! sliding-window [`Red`](crate::metrics::Red) recorder of brace's metrics
//! module: calls per second, error rate and call-latency quantiles over the
//! last minute (or the window you configure), exportable to Prometheus.

mod batch;
mod batch_fn;
mod cache;
mod config;
mod dispatch;
mod error;
mod load;
mod stats;
mod table;

use alloc::vec::Vec;
use core::fmt;
use core::hash::Hash;

use futures_util::future::{Either, join_all, ready};

pub use batch_fn::{BatchFn, BatchOutput};
pub use config::{DEFAULT_MAX_BATCH_SIZE, DEFAULT_YIELDS, LoaderBuilder, MAX_YIELDS};
pub use error::{ConfigError, LoadError};
pub use load::Load;
pub use stats::{LoaderStats, SIZE_BUCKETS, size_bucket_range};

use crate::sync::{Arc, Mutex};
use config::Settings;
use core::task::Waker;
use stats::Counters;
use table::{Enqueued, Table};

/// The loader's maps (in-flight keys, batches, the request cache). Keys are
/// the caller's (ids, often small integers): hashed with ahash, not std's
/// SipHash, which costs several times more per key.
type FastMap<K, V> = hashbrown::HashMap<K, V, ahash::RandomState>;

/// What one `load` answers: the value, `None` for a key the batch function
/// did not return, or why it failed.
pub type LoadResult<V, E> = Result<Option<V>, LoadError<E>>;

/// Collects loads into batches and calls a [`BatchFn`] once per batch.
///
/// See the [module docs](self) for dispatch, cancellation and the GraphQL
/// request-scoped pattern.
///
/// # Clone
///
/// Clones share one loader (batches, cache, counters) through an `Arc`;
/// clone it into tasks you spawn.
///
/// # Thread safety
///
/// All state is behind one mutex, held for a few map operations per load
/// and never across an `.await` or a call of the batch function.
///
/// ```
/// use brace::loader::{BatchFn, BatchLoader};
/// use std::collections::HashMap;
///
/// struct Doubler;
/// impl BatchFn<i32> for Doubler {
///     type Value = i32;
///     type Error = std::convert::Infallible;
///     type Output = HashMap<i32, i32>;
///     async fn load(&self, keys: &[i32]) -> Result<Self::Output, Self::Error> {
///         Ok(keys.iter().filter(|&&k| k >= 0).map(|&k| (k, 2 * k)).collect())
///     }
/// }
///
/// let loader = BatchLoader::new(Doubler);
/// futures_executor::block_on(async {
///     let (a, b) = futures_util::future::join(loader.load(1), loader.load(-1)).await;
///     assert_eq!(a.unwrap(), Some(2));
///     assert_eq!(b.unwrap(), None); // not returned: not found
///     let many = loader.load_many([3, 4, 3]).await;
///     assert_eq!(many.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>(), [Some(6), Some(8), Some(6)]);
/// });
/// assert_eq!(loader.stats().batches_sent, 2);
/// ```
pub struct BatchLoader<K, F: BatchFn<K>> {
    inner: Arc<Inner<K, F>>,
}

pub(crate) struct Inner<K, F: BatchFn<K>> {
    pub(crate) batch_fn: F,
    pub(crate) settings: Settings,
    pub(crate) table: Mutex<Table<K, F::Value, F::Error>>,
    pub(crate) counters: Counters,
}

impl<K, F: BatchFn<K>> Clone for BatchLoader<K, F> {
    fn clone(&self) -> Self {
        BatchLoader {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, F: BatchFn<K>> fmt::Debug for BatchLoader<K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchLoader")
            .field("settings", &self.inner.settings)
            .field("stats", &self.inner.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl<K, F> BatchLoader<K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    /// A loader with the default configuration (see [`LoaderBuilder`]).
    pub fn new(batch_fn: F) -> Self {
        Self::from_parts(batch_fn, Settings::default(), false)
    }

    /// Starts configuring a loader.
    pub fn builder(batch_fn: F) -> LoaderBuilder<K, F> {
        LoaderBuilder::new(batch_fn)
    }

    pub(crate) fn from_parts(batch_fn: F, settings: Settings, cache: bool) -> Self {
        BatchLoader {
            inner: Arc::new(Inner {
                batch_fn,
                settings,
                table: Mutex::new(Table::new(cache)),
                counters: Counters::new(),
            }),
        }
    }

    /// Loads one key, batched with the other loads of this tick.
    ///
    /// # Errors
    ///
    /// The future resolves to [`LoadError::Key`] if the batch function
    /// failed this key, [`LoadError::Batch`] if it failed the whole batch,
    /// [`LoadError::Panicked`] if it panicked. A key it did not return is
    /// `Ok(None)`.
    ///
    /// # Cancellation
    ///
    /// Safe to drop at any point; see the [module docs](self#cancellation).
    pub fn load(&self, key: K) -> Load<'_, K, F> {
        Load::new(&self.inner, key)
    }

    /// Loads several keys (batched like [`load`](Self::load)); the results
    /// are in the order of `keys`, a repeated key answered for each place.
    ///
    /// # Errors
    ///
    /// Per key, as for [`load`](Self::load).
    ///
    /// # Cancellation
    ///
    /// As for [`load`](Self::load), for every key.
    pub async fn load_many<I>(&self, keys: I) -> Vec<LoadResult<F::Value, F::Error>>
    where
        I: IntoIterator<Item = K>,
    {
        // The caller's iterator runs before any key joins a batch. Each key
        // that joins is held by a `Load` at once, so a panic part-way (a
        // key's `Hash` or `Eq`) leaves the batches through their drops, after
        // the lock guard (declared later) is gone; a leader to wake because
        // its batch filled is woken on that path too.
        let keys: Vec<K> = keys.into_iter().collect();
        let mut wake = WakeOnDrop(Vec::new());
        let mut loads = Vec::with_capacity(keys.len());
        {
            let mut table = self.inner.table.lock();
            let max = self.inner.settings.max_batch_size;
            for key in keys {
                let (enqueued, leader) = table.enqueue(key, max);
                wake.0.extend(leader);
                loads.push(match enqueued {
                    Enqueued::Cached(value) => Either::Left(ready(Ok(Some(value)))),
                    Enqueued::Waiting(id, slot) => {
                        Either::Right(Load::enqueued(&self.inner, id, slot))
                    }
                });
            }
        }
        drop(wake);
        join_all(loads).await
    }

    /// Puts `value` in the cache for `key` unless it already has one (use
    /// [`clear`](Self::clear) first to replace). Returns whether it was
    /// stored; always `false` when the cache is off. A load of `key` whose
    /// call is already running does not replace it when it returns.
    pub fn prime(&self, key: K, value: F::Value) -> bool {
        self.inner.table.lock().cache.prime(key, value)
    }

    /// Drops `key` from the cache; returns whether it was there. A batch
    /// call already running may have read what changed: its results are
    /// not stored in the cache when they return, and a load of `key` made
    /// after this call does not join it but goes into a new batch (the
    /// running call's own callers still get its result). The same holds
    /// for [`clear_all`](Self::clear_all), for every key. Useful with the
    /// cache off too, to stop later loads from joining a call that started
    /// before a write.
    pub fn clear(&self, key: &K) -> bool {
        self.inner.table.lock().clear(key)
    }

    /// Empties the cache; see [`clear`](Self::clear).
    pub fn clear_all(&self) {
        self.inner.table.lock().clear_all();
    }

    /// Whether this loader caches values.
    pub fn caches(&self) -> bool {
        self.inner.table.lock().cache.is_enabled()
    }

    /// Number of values in the cache.
    pub fn cached_len(&self) -> usize {
        self.inner.table.lock().cache.len()
    }

    /// Keys in batches that are filling or being loaded (0 when idle),
    /// except a key whose running call a [`clear`](Self::clear) detached:
    /// that call still answers its callers but is no longer counted.
    pub fn pending_keys(&self) -> usize {
        self.inner.table.lock().pending_keys()
    }

    /// Batches not yet collected by all their callers (0 when idle).
    pub fn in_flight_batches(&self) -> usize {
        self.inner.table.lock().batches()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> LoaderStats {
        self.inner.counters.snapshot()
    }

    /// The batch function.
    pub fn batch_fn(&self) -> &F {
        &self.inner.batch_fn
    }
}

/// Wakers to wake when dropped, on the normal path or during an unwind.
struct WakeOnDrop(Vec<Waker>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        crate::wake::wake_all(core::mem::take(&mut self.0));
    }
}
