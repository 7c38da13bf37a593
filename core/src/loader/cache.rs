//! The optional per-loader cache of loaded values.
//!
//! It lives inside the loader's table, under the same lock as the batches,
//! so a load checks the cache and joins a batch in one critical section.

use super::FastMap;
use core::hash::Hash;

/// Values by key, or nothing at all when caching is off.
#[derive(Debug)]
pub(crate) struct ValueCache<K, V> {
    values: Option<FastMap<K, V>>,
    /// Calls of `remove` and `clear` so far: a batch sent before one of
    /// them may have read what the caller cleared, so its results are not
    /// stored (see `Table::finish_call`).
    clears: u64,
}

impl<K: Hash + Eq, V: Clone> ValueCache<K, V> {
    pub(crate) fn new(enabled: bool) -> Self {
        ValueCache {
            values: enabled.then(FastMap::default),
            clears: 0,
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.values.as_ref()?.get(key).cloned()
    }

    /// Stores `value` unless `key` already has one; `false` when caching is
    /// off or the key was present.
    pub(crate) fn prime(&mut self, key: K, value: V) -> bool {
        match &mut self.values {
            Some(values) if !values.contains_key(&key) => {
                values.insert(key, value);
                true
            }
            _ => false,
        }
    }

    /// Stores a freshly loaded value unless `key` already has one: a key
    /// in the cache is never loaded, so a value there was primed (or stored
    /// by another batch) while this one loaded, and is kept. Takes the key
    /// by reference: with caching off (the default) nothing is cloned.
    pub(crate) fn store(&mut self, key: &K, value: &V)
    where
        K: Clone,
    {
        if let Some(values) = &mut self.values {
            if !values.contains_key(key) {
                values.insert(key.clone(), value.clone());
            }
        }
    }

    /// How many times the cache was cleared (a key or all of it).
    pub(crate) fn clears(&self) -> u64 {
        self.clears
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.values.is_some()
    }

    pub(crate) fn remove(&mut self, key: &K) -> bool {
        self.clears += 1;
        self.values
            .as_mut()
            .is_some_and(|v| v.remove(key).is_some())
    }

    pub(crate) fn clear(&mut self) {
        self.clears += 1;
        if let Some(values) = &mut self.values {
            values.clear();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.values.as_ref().map_or(0, FastMap::len)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn disabled_cache_stores_nothing() {
        let mut c = ValueCache::<u8, u8>::new(false);
        assert!(!c.prime(1, 1));
        c.store(&2, &2);
        assert_eq!((c.get(&1), c.get(&2), c.len()), (None, None, 0));
    }

    #[test]
    fn prime_and_store_keep_the_first_value_and_clears_are_counted() {
        let mut c = ValueCache::new(true);
        assert!(c.prime(1, "a"));
        assert!(!c.prime(1, "b"));
        assert_eq!(c.get(&1), Some("a"));
        c.store(&1, &"c");
        assert_eq!(c.get(&1), Some("a"), "a primed value stays");
        assert!(c.remove(&1));
        assert!(!c.remove(&1));
        c.store(&2, &"d");
        assert_eq!(c.get(&2), Some("d"));
        c.clear();
        assert_eq!((c.len(), c.clears()), (0, 3));
    }
}
