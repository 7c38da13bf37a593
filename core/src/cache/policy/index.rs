//! The policy's index from key hash to node, split into parts.
//!
//! One `HashTable<u32>` of a million entries takes 2^21 buckets of five
//! bytes (48% full): 10.5 bytes per entry. Split by hash into the part count
//! that puts each part's share just under 7/8 of a power of two (see
//! `sizing.rs`), the same million take 36 × 32,768 buckets: 5.9 bytes per
//! entry. The parts are sized for a policy of `capacity` entries; a
//! weighted policy (capacity in weight) gets the same split, and its parts
//! grow as they fill.

use alloc::boxed::Box;
use alloc::vec::Vec;
use hashbrown::HashTable;

use super::lru::LruLists;
use super::sketch::spread;
use crate::cache::sizing::{least_buckets_split, part_of};

/// Policies smaller than this keep one table.
const SPLIT_FROM: u64 = 4096;
/// Most parts.
const MAX_PARTS: u64 = 64;

/// Node indexes by the hash of their entry.
#[derive(Debug)]
pub(super) struct NodeIndex {
    parts: Box<[HashTable<u32>]>,
}

impl NodeIndex {
    /// An empty index for a policy of `capacity` entries (or weight).
    pub(super) fn new(capacity: u64) -> Self {
        let parts = if capacity < SPLIT_FROM {
            1
        } else {
            least_buckets_split(capacity, 1, MAX_PARTS)
        };
        NodeIndex {
            parts: (0..parts)
                .map(|_| HashTable::new())
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        }
    }

    #[inline]
    fn part(&self, spread: u64) -> &HashTable<u32> {
        &self.parts[part_of(spread, self.parts.len())]
    }

    #[inline]
    fn part_mut(&mut self, spread: u64) -> &mut HashTable<u32> {
        let count = self.parts.len();
        &mut self.parts[part_of(spread, count)]
    }

    /// The node of `hash`, if indexed.
    #[inline]
    pub(super) fn find(&self, hash: u64, lists: &LruLists) -> Option<u32> {
        let mixed = spread(hash);
        self.part(mixed)
            .find(mixed, |&i| lists.hash(i) == hash)
            .copied()
    }

    /// Indexes `node`, whose hash is `hash` and not yet indexed.
    pub(super) fn insert(&mut self, hash: u64, node: u32, lists: &LruLists) {
        let mixed = spread(hash);
        self.part_mut(mixed)
            .insert_unique(mixed, node, |&i| spread(lists.hash(i)));
    }

    /// Drops `hash` from the index; returns its node if it was indexed.
    pub(super) fn remove(&mut self, hash: u64, lists: &LruLists) -> Option<u32> {
        let mixed = spread(hash);
        let entry = self
            .part_mut(mixed)
            .find_entry(mixed, |&i| lists.hash(i) == hash)
            .ok()?;
        Some(entry.remove().0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::policy::lru::Queue;

    #[test]
    fn finds_what_it_indexed_across_parts() {
        let mut lists = LruLists::new();
        let mut index = NodeIndex::new(100_000);
        assert!(index.parts.len() > 1);
        let hashes: Vec<u64> = (0..5_000u64)
            .map(|k| k.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        for &hash in &hashes {
            let node = lists.push(hash, 1, Queue::Window);
            index.insert(hash, node, &lists);
        }
        for &hash in &hashes {
            let node = index.find(hash, &lists).expect("indexed");
            assert_eq!(lists.hash(node), hash);
        }
        assert_eq!(index.find(12345, &lists), None);
        let gone = hashes[17];
        let node = index.remove(gone, &lists).expect("indexed");
        assert_eq!(lists.hash(node), gone);
        assert_eq!(index.find(gone, &lists), None);
        assert_eq!(index.remove(gone, &lists), None);
    }
}
