//! Eviction policy (temporary exact LRU over key hashes, replaced by the
//! policy branch). Single-threaded: the cache calls it under its policy lock.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use std::collections::HashMap;

/// An exact LRU keyed by 64-bit key hashes.
#[derive(Debug)]
pub(crate) struct Policy {
    capacity: u64,
    size: u64,
    tick: u64,
    resident: HashMap<u64, (u32, u64)>,
    by_age: BTreeMap<u64, u64>,
}

impl Policy {
    pub(crate) fn new(capacity: u64) -> Policy {
        Policy {
            capacity,
            size: 0,
            tick: 0,
            resident: HashMap::new(),
            by_age: BTreeMap::new(),
        }
    }

    fn touch(&mut self, hash: u64) {
        self.tick += 1;
        let tick = self.tick;
        if let Some((_, at)) = self.resident.get_mut(&hash) {
            self.by_age.remove(at);
            *at = tick;
            self.by_age.insert(tick, hash);
        }
    }

    pub(crate) fn record_access(&mut self, hash: u64) {
        self.touch(hash);
    }

    pub(crate) fn record_miss(&mut self, _hash: u64) {}

    pub(crate) fn insert(&mut self, hash: u64, weight: u32, evict: &mut Vec<u64>) {
        if self.resident.contains_key(&hash) {
            return self.update_weight(hash, weight, evict);
        }
        self.tick += 1;
        self.resident.insert(hash, (weight, self.tick));
        self.by_age.insert(self.tick, hash);
        self.size += u64::from(weight);
        self.evict_over_capacity(evict);
    }

    pub(crate) fn update_weight(&mut self, hash: u64, weight: u32, evict: &mut Vec<u64>) {
        if let Some((w, _)) = self.resident.get_mut(&hash) {
            self.size = self.size - u64::from(*w) + u64::from(weight);
            *w = weight;
            self.touch(hash);
            self.evict_over_capacity(evict);
        }
    }

    pub(crate) fn remove(&mut self, hash: u64) {
        if let Some((w, at)) = self.resident.remove(&hash) {
            self.by_age.remove(&at);
            self.size -= u64::from(w);
        }
    }

    pub(crate) fn weighted_size(&self) -> u64 {
        self.size
    }

    fn evict_over_capacity(&mut self, evict: &mut Vec<u64>) {
        while self.size > self.capacity {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            if let Some((w, _)) = self.resident.remove(&oldest) {
                self.size -= u64::from(w);
            }
            evict.push(oldest);
        }
    }
}
