//! A single-threaded cache of `u64 -> u64` driven by [`Policy`], for the
//! hit-ratio benchmark only: it measures the policy's decisions without the
//! concurrent cache around it.

use alloc::vec::Vec;
use std::collections::HashMap;

use super::Policy;

/// Not part of brace's API: a map of resident keys plus the eviction
/// policy, so `compare hitratio` can measure the policy by itself.
///
/// ```
/// let mut sim = brace::cache::PolicySimulator::new(2);
/// assert_eq!(sim.get(1), None);
/// sim.insert(1, 10);
/// assert_eq!(sim.get(1), Some(10));
/// sim.remove(1);
/// assert_eq!((sim.len(), sim.weighted_size()), (0, 0));
/// ```
#[doc(hidden)]
#[derive(Debug)]
pub struct PolicySimulator {
    policy: Policy,
    values: HashMap<u64, u64>,
    evict: Vec<u64>,
}

impl PolicySimulator {
    /// An empty simulator holding at most `capacity` entries.
    pub fn new(capacity: u64) -> Self {
        PolicySimulator {
            policy: Policy::new(capacity),
            values: HashMap::new(),
            evict: Vec::new(),
        }
    }

    /// The value stored for `key`, recording a hit or a miss.
    pub fn get(&mut self, key: u64) -> Option<u64> {
        match self.values.get(&key) {
            Some(&value) => {
                self.policy.record_access(key);
                Some(value)
            }
            None => {
                self.policy.record_miss(key);
                None
            }
        }
    }

    /// Stores `value` for `key` (weight 1), evicting what the policy says.
    pub fn insert(&mut self, key: u64, value: u64) {
        if self.values.insert(key, value).is_some() {
            return;
        }
        self.evict.clear();
        self.policy.insert(key, 1, &mut self.evict);
        for hash in &self.evict {
            self.values.remove(hash);
        }
    }

    /// The admission window's current maximum (in entries), as the policy
    /// chose it.
    pub fn window_max(&self) -> u64 {
        self.policy.window_max()
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: u64) {
        if self.values.remove(&key).is_some() {
            self.policy.remove(key);
        }
    }

    /// Entries resident according to the policy (equal to [`Self::len`]).
    pub fn weighted_size(&self) -> u64 {
        self.policy.weighted_size()
    }

    /// Entries resident now.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether nothing is resident.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}
