//! Key hashing: one randomly seeded hash per key, used both to place the
//! entry in the store and as the eviction policy's handle for it.
//!
//! The seed comes from the OS at cache construction (ahash's `RandomState`),
//! so an attacker who controls keys cannot choose ones that collide. Two
//! distinct keys with the same 64-bit hash are still handled: the slot keeps
//! the key, a lookup compares it, and an insert of the second key replaces
//! the first (the cache may drop any entry at any time).

use core::hash::Hash;

/// Hashes keys with a per-cache random seed. Never returns 0, which the
/// access buffers use to mark an empty slot.
#[derive(Clone, Debug)]
pub(super) struct KeyHasher(ahash::RandomState);

impl KeyHasher {
    pub(super) fn new() -> Self {
        KeyHasher(ahash::RandomState::new())
    }

    #[inline]
    pub(super) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        match self.0.hash_one(key) {
            0 => 1,
            h => h,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_between_caches() {
        let (a, b) = (KeyHasher::new(), KeyHasher::new());
        let same = (0u64..64).filter(|k| a.hash(k) == b.hash(k)).count();
        assert!(same < 2, "two caches hashed {same} of 64 keys alike");
    }
}
