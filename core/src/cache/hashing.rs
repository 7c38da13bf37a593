//! Key hashing: one randomly seeded hash per key, used both as the map's key
//! and as the eviction policy's handle for the entry.
//!
//! The seed comes from the OS at cache construction (ahash's `RandomState`),
//! so an attacker who controls keys cannot choose ones that collide. Two
//! distinct keys with the same 64-bit hash are still handled: the slot keeps
//! the key, a lookup compares it, and an insert of the second key replaces
//! the first (the cache may drop any entry at any time).

use core::hash::{BuildHasher, Hash, Hasher};

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

/// The map is keyed by the already seeded hash; this passes it through.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct PassThrough;

impl BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;

    #[inline]
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

/// Returns the `u64` it was fed (only `u64` keys are ever hashed with it).
#[derive(Debug)]
pub(super) struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for u64 keys; folds anything else rather than panic.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
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

    #[test]
    fn pass_through_returns_the_hash() {
        assert_eq!(PassThrough.hash_one(0xdead_beef_u64), 0xdead_beef);
    }
}
