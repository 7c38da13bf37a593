//! Walking a cache's live entries: [`Cache::iter`].
//!
//! The walk goes one shard at a time: under the shard's read lock it clones
//! the key and value of every live entry into a batch, lets go, and hands
//! the batch out. So it never holds a lock while the caller's code runs,
//! and it holds at most one shard's worth of clones: a cache of 1,024
//! entries or more has 16 to 64 shards, a smaller one about one per 64
//! entries of capacity.

use core::fmt;
use core::hash::Hash;
use core::iter::FusedIterator;

use alloc::vec::{IntoIter, Vec};

use super::Cache;
use crate::time::Clock;

impl<K, V, C> Cache<K, V, C>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Clone + Send + Sync,
    C: Clock,
{
    /// An iterator over clones of the cache's live entries, as
    /// `(key, value)`, in no particular order.
    ///
    /// Live as [`get`](Self::get) judges it: an expired or invalidated
    /// entry is never yielded, nor a cached "not found"
    /// ([`negative_ttl`](super::CacheBuilder::negative_ttl)); a value past
    /// its soft TTL is (it is still served). Unlike `get`, the walk is not
    /// a read: no hit is counted and the eviction policy does not hear of
    /// it.
    ///
    /// # Thread safety
    ///
    /// Weakly consistent: each entry that stays live and unchanged for the
    /// whole walk is yielded exactly once; one written, replaced or removed
    /// during the walk may be yielded (the old or the new value) or not.
    /// The walk takes one shard's read lock at a time, to clone that
    /// shard's entries, as `get` clones a value; it holds no lock between
    /// calls to `next`, so the loop's body may use the cache freely. A
    /// key's or value's `Clone` must not write to the same cache (it runs
    /// under a read lock, as in `get`).
    ///
    /// ```
    /// use brace::cache::Cache;
    ///
    /// let cache = Cache::<u32, &str>::builder().max_capacity(100).build()?;
    /// cache.insert(1, "one");
    /// cache.insert(2, "two");
    /// let mut entries: Vec<_> = cache.iter().collect();
    /// entries.sort();
    /// assert_eq!(entries, [(1, "one"), (2, "two")]);
    /// assert_eq!(cache.stats().hits, 0);
    /// # Ok::<(), brace::cache::ConfigError>(())
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V, C> {
        Iter {
            cache: self,
            next_shard: 0,
            batch: Vec::new().into_iter(),
        }
    }
}

/// The iterator [`Cache::iter`] returns: clones of the live entries, one
/// shard at a time.
///
/// ```
/// use brace::cache::Cache;
///
/// let cache = Cache::<u32, u32>::builder().max_capacity(1_000).build()?;
/// for k in 0..100 {
///     cache.insert(k, k * 2);
/// }
/// assert_eq!(cache.iter().map(|(_, v)| v).sum::<u32>(), 9_900);
/// # Ok::<(), brace::cache::ConfigError>(())
/// ```
pub struct Iter<'a, K, V, C> {
    cache: &'a Cache<K, V, C>,
    /// The shard whose entries come after `batch`.
    next_shard: usize,
    /// What is left of the current shard's clones.
    batch: IntoIter<(K, V)>,
}

impl<K, V, C> Iterator for Iter<'_, K, V, C>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Clone + Send + Sync,
    C: Clock,
{
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(entry) = self.batch.next() {
                return Some(entry);
            }
            let inner = &*self.cache.inner;
            if self.next_shard == inner.map.shards() {
                return None;
            }
            let mut batch = Vec::new();
            inner.map.select_in(
                self.next_shard,
                |slot| {
                    let view = slot.view();
                    inner.judge_view(slot, view).ok()?;
                    Some((slot.key.clone(), view.value()?.clone()))
                },
                &mut batch,
            );
            self.next_shard += 1;
            self.batch = batch.into_iter();
        }
    }
}

impl<K, V, C> FusedIterator for Iter<'_, K, V, C>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Clone + Send + Sync,
    C: Clock,
{
}

/// Shows how far the walk has got, not the entries.
impl<K, V, C> fmt::Debug for Iter<'_, K, V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("next_shard", &self.next_shard)
            .field("shards", &self.cache.inner.map.shards())
            .field("batch_left", &self.batch.len())
            .finish()
    }
}
