//! Reference policies for hit ratios: Belady's OPT (the upper bound) and an
//! exact LRU.

use std::collections::{BinaryHeap, HashMap};
use std::num::NonZeroUsize;

/// Hits of Belady's optimal policy on `keys` with room for `capacity`
/// entries: on a miss with a full cache it drops whichever resident key (or
/// the new key itself) is next requested furthest in the future. No
/// policy can score more.
pub fn opt_hits(keys: &[u64], capacity: usize) -> u64 {
    if capacity == 0 {
        return 0;
    }
    let next_use = next_uses(keys);
    // resident key -> its next use; heap of (next use, key) with stale
    // entries skipped when popped.
    let mut resident: HashMap<u64, usize> = HashMap::with_capacity(capacity);
    let mut furthest: BinaryHeap<(usize, u64)> = BinaryHeap::new();
    let mut hits = 0;
    for (at, &key) in keys.iter().enumerate() {
        let next = next_use[at];
        if let Some(slot) = resident.get_mut(&key) {
            hits += 1;
            *slot = next;
            furthest.push((next, key));
            continue;
        }
        if resident.len() == capacity {
            let (victim_next, victim) = loop {
                let top = furthest.pop().expect("a full cache has a furthest key");
                if resident.get(&top.1) == Some(&top.0) {
                    break top;
                }
            };
            if victim_next <= next {
                // The new key is needed later than every resident: skip it.
                furthest.push((victim_next, victim));
                continue;
            }
            resident.remove(&victim);
        }
        resident.insert(key, next);
        furthest.push((next, key));
    }
    hits
}

/// For each position, the position of the next request for the same key
/// (`usize::MAX` if none).
fn next_uses(keys: &[u64]) -> Vec<usize> {
    let mut next_use = vec![usize::MAX; keys.len()];
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (at, &key) in keys.iter().enumerate().rev() {
        if let Some(later) = seen.insert(key, at) {
            next_use[at] = later;
        }
    }
    next_use
}

/// An exact LRU cache of `u64 -> u64` (the `lru` crate).
#[derive(Debug)]
pub struct ExactLru {
    cache: Option<lru::LruCache<u64, u64>>,
}

impl ExactLru {
    /// An LRU holding at most `capacity` entries (none when 0).
    pub fn new(capacity: usize) -> Self {
        ExactLru {
            cache: NonZeroUsize::new(capacity).map(lru::LruCache::new),
        }
    }

    /// The value for `key`, marking it most recently used.
    pub fn get(&mut self, key: u64) -> Option<u64> {
        self.cache.as_mut()?.get(&key).copied()
    }

    /// Stores `value` for `key`, dropping the least recently used entry when
    /// full.
    pub fn insert(&mut self, key: u64, value: u64) {
        if let Some(cache) = self.cache.as_mut() {
            cache.put(key, value);
        }
    }
}

/// Hits of an exact LRU on `keys`.
pub fn lru_hits(keys: &[u64], capacity: usize) -> u64 {
    let mut lru = ExactLru::new(capacity);
    let mut hits = 0;
    for &key in keys {
        match lru.get(key) {
            Some(_) => hits += 1,
            None => lru.insert(key, key),
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way of choosing what to keep, by brute force, on tiny inputs.
    fn best_possible(keys: &[u64], capacity: usize) -> u64 {
        fn go(keys: &[u64], capacity: usize, cache: Vec<u64>) -> u64 {
            let Some((&key, rest)) = keys.split_first() else {
                return 0;
            };
            if cache.contains(&key) {
                return 1 + go(rest, capacity, cache);
            }
            let mut best = go(rest, capacity, cache.clone()); // bypass
            if cache.len() < capacity {
                let mut with = cache.clone();
                with.push(key);
                best = best.max(go(rest, capacity, with));
            } else {
                for drop in 0..cache.len() {
                    let mut with = cache.clone();
                    with[drop] = key;
                    best = best.max(go(rest, capacity, with));
                }
            }
            best
        }
        go(keys, capacity, Vec::new())
    }

    #[test]
    fn opt_matches_brute_force_on_small_streams() {
        let mut state = 9;
        for case in 0..200 {
            let len = 4 + case % 9;
            let keys: Vec<u64> = (0..len)
                .map(|_| crate::traces::splitmix64(&mut state) % 5)
                .collect();
            for capacity in 1..=3 {
                assert_eq!(
                    opt_hits(&keys, capacity),
                    best_possible(&keys, capacity),
                    "{keys:?} at {capacity}"
                );
            }
        }
    }

    #[test]
    fn lru_scores_zero_on_a_loop_larger_than_the_cache() {
        let keys: Vec<u64> = (0..10).flat_map(|_| 0..5).collect();
        assert_eq!(lru_hits(&keys, 4), 0);
        assert_eq!(lru_hits(&keys, 5), 45);
        assert_eq!(opt_hits(&keys, 4), 36);
    }
}
