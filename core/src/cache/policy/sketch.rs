//! A count-min sketch of 4-bit counters that estimates how often each key
//! hash was seen recently (the "TinyLFU" frequency filter).
//!
//! The table is a power-of-two array of `u64` words, each holding sixteen
//! 4-bit counters. A key picks one word per row with four independent hash
//! mixes, and one counter inside each word; its estimate is the smallest of
//! those four counters, so collisions can only over-estimate. Counters
//! saturate at 15. After `sample_size` increments every counter is halved,
//! so the sketch forgets old popularity and follows a changing workload
//! (the "reset" of the TinyLFU paper: Einziger, Friedman, Manes, "TinyLFU: A
//! Highly Efficient Cache Admission Policy", ACM ToS 2017).
//!
//! Every increment raises all four counters. A conservative update (raising
//! only the minimal ones) was tried and measured worse: with near-exact
//! counts, a key seen just after a halving always beats one seen just
//! before it, so loops and scans churn (loop at 256 entries: 19.4% against
//! 24.7%; zigzag at 500: 8.1% against 22.0%).

use alloc::vec;
use alloc::vec::Vec;

/// Odd multipliers, one per row, that turn one key hash into four indexes.
const ROW_SEEDS: [u64; 4] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0xD6E8_FEB8_6659_FD93,
];

/// At most 2^20 words (8 MiB): enough for about a million distinct hot keys.
const MAX_WORDS: u64 = 1 << 20;

/// Largest value of a 4-bit counter.
const COUNTER_MAX: u64 = 15;

/// Frequency estimates for key hashes, aged by periodic halving.
#[derive(Debug)]
pub(super) struct FrequencySketch {
    table: Vec<u64>,
    mask: u64,
    additions: u64,
    sample_size: u64,
}

impl FrequencySketch {
    /// A sketch sized for a cache of `capacity` entries: one word per entry
    /// (rounded up to a power of two, between 16 and 2^20 words), halved
    /// after ten increments per word.
    pub(super) fn new(capacity: u64) -> Self {
        let words = capacity.clamp(16, MAX_WORDS).next_power_of_two();
        FrequencySketch {
            table: vec![0; words as usize],
            mask: words - 1,
            additions: 0,
            sample_size: 10 * words,
        }
    }

    #[cfg(test)]
    /// The estimated number of times `hash` was seen (0..=15).
    pub(super) fn frequency(&self, hash: u64) -> u8 {
        self.frequency_of_spread(spread(hash))
    }

    /// The estimated number of times a hash was seen (0..=15), given the
    /// hash already put through [`spread`] (as the policy's node table keeps
    /// it).
    pub(super) fn frequency_of_spread(&self, spread: u64) -> u8 {
        let mut min = COUNTER_MAX;
        for row in 0..ROW_SEEDS.len() {
            let (word, shift) = self.slot(spread, row);
            min = min.min((self.table[word] >> shift) & COUNTER_MAX);
        }
        min as u8
    }

    /// Loads the four counter words of the hash whose [`spread`] is
    /// `spread` (for an increment soon after).
    pub(super) fn warm_spread(&self, spread: u64) {
        for row in 0..ROW_SEEDS.len() {
            core::hint::black_box(self.table[self.slot(spread, row).0]);
        }
    }

    #[cfg(test)]
    pub(super) fn increment(&mut self, hash: u64) {
        self.increment_spread(spread(hash));
    }

    /// Counts one occurrence of the hash whose [`spread`] is `spread` in
    /// each of its four counters (those already at 15 stay there); halves
    /// every counter once `sample_size` occurrences have been counted since
    /// the last halving.
    #[inline]
    pub(super) fn increment_spread(&mut self, spread: u64) {
        let mut added = false;
        for row in 0..ROW_SEEDS.len() {
            let (word, shift) = self.slot(spread, row);
            if (self.table[word] >> shift) & COUNTER_MAX < COUNTER_MAX {
                self.table[word] += 1 << shift;
                added = true;
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample_size {
                self.halve();
            }
        }
    }

    /// Halves every counter. A counter that was odd loses half a count to
    /// rounding; the addition count is lowered to match.
    fn halve(&mut self) {
        let mut odd = 0;
        for word in &mut self.table {
            odd += u64::from((*word & 0x1111_1111_1111_1111).count_ones());
            *word = (*word >> 1) & 0x7777_7777_7777_7777;
        }
        self.additions = self.additions.saturating_sub(odd / 4) / 2;
    }

    /// The word and bit offset of `spread`'s counter in `row`. Each row uses
    /// its own quarter of the counters in a word, picked by the key.
    fn slot(&self, spread: u64, row: usize) -> (usize, u32) {
        let mixed = spread.wrapping_mul(ROW_SEEDS[row]);
        let word = ((mixed ^ (mixed >> 29)) >> 16) & self.mask;
        let counter = ((spread & 3) << 2) as u32 + row as u32;
        (word as usize, counter * 4)
    }
}

/// The splitmix64 finaliser's two multipliers.
const SPREAD_1: u64 = 0xBF58_476D_1CE4_E5B9;
const SPREAD_2: u64 = 0x94D0_49BB_1331_11EB;

/// A strong 64-bit mix (the splitmix64 finaliser), so keys that differ in a
/// few bits land in unrelated counters. A bijection: see [`unspread`].
pub(super) fn spread(hash: u64) -> u64 {
    let mut x = hash;
    x = (x ^ (x >> 30)).wrapping_mul(SPREAD_1);
    x = (x ^ (x >> 27)).wrapping_mul(SPREAD_2);
    x ^ (x >> 31)
}

/// The inverse of [`spread`] (the policy's node table keeps spread hashes
/// and hands the cache back the original).
pub(super) fn unspread(mixed: u64) -> u64 {
    const INVERSE_1: u64 = inverse(SPREAD_1);
    const INVERSE_2: u64 = inverse(SPREAD_2);
    let mut x = mixed;
    x ^= (x >> 31) ^ (x >> 62);
    x = x.wrapping_mul(INVERSE_2);
    x ^= (x >> 27) ^ (x >> 54);
    x = x.wrapping_mul(INVERSE_1);
    x ^ (x >> 30) ^ (x >> 60)
}

/// The multiplicative inverse of the odd `a` modulo 2^64 (Newton's
/// iteration; each step doubles the correct low bits).
const fn inverse(a: u64) -> u64 {
    let mut x = a; // correct to 3 bits for any odd `a`
    let mut step = 0;
    while step < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        step += 1;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspread_inverts_spread() {
        let mut x = 0x0123_4567_89AB_CDEFu64;
        for fixed in [0, 1, 2, 0xDEAD_BEEF, u64::MAX, 1 << 63] {
            assert_eq!(unspread(spread(fixed)), fixed);
        }
        for _ in 0..10_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            assert_eq!(unspread(spread(x)), x);
            assert_eq!(spread(unspread(x)), x);
        }
    }

    #[test]
    fn estimates_follow_counts_and_saturate_at_fifteen() {
        let mut sketch = FrequencySketch::new(512);
        for _ in 0..5 {
            sketch.increment(42);
        }
        assert_eq!(sketch.frequency(42), 5);
        for _ in 0..20 {
            sketch.increment(42);
        }
        assert_eq!(sketch.frequency(42), 15);
        assert_eq!(sketch.frequency(43), 0);
    }

    #[test]
    fn estimates_never_under_count_and_rarely_over_count() {
        let mut sketch = FrequencySketch::new(1024);
        // 1000 keys seen 1..=3 times each: far below the halving threshold.
        for key in 0..1000u64 {
            for _ in 0..=(key % 3) {
                sketch.increment(key);
            }
        }
        let mut exact = 0;
        for key in 0..1000u64 {
            let truth = (key % 3 + 1) as u8;
            let estimate = sketch.frequency(key);
            assert!(estimate >= truth, "key {key}: {estimate} < {truth}");
            exact += usize::from(estimate == truth);
        }
        assert!(exact >= 950, "only {exact} of 1000 estimates exact");
    }

    #[test]
    fn halving_ages_old_popularity() {
        let mut sketch = FrequencySketch::new(64);
        for _ in 0..12 {
            sketch.increment(7);
        }
        assert_eq!(sketch.frequency(7), 12);
        // Other keys push the sketch past its sample size (640 additions);
        // collisions may raise key 7 a little before, the halving cuts it.
        let mut before = sketch.frequency(7);
        for key in 1000..2000 {
            sketch.increment(key);
            let now = sketch.frequency(7);
            if now < before {
                assert!(before >= 12 && now <= before / 2 + 1, "{before} -> {now}");
                return;
            }
            before = now;
        }
        panic!("no halving after 1000 additions");
    }
}
