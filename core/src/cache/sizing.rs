//! Splitting a table into parts so that power-of-two growth wastes little.
//!
//! A hash table's bucket count is a power of two, filled to at most 7/8, so
//! one table of `n` entries is between 7/16 and 7/8 full depending on how
//! `n` falls against a power of two: a million entries take 2^21 buckets,
//! 48% full. Split into `k` parts by hash, each part holds about `n / k`,
//! and some `k` puts that share just under a power of two's 7/8.

/// Among part counts from `fewest` to `most`, the one with the fewest
/// buckets in total once every part holds its share of `entries` plus a
/// margin of four standard deviations (keys land in parts at random),
/// preferring more parts on a tie. A million entries: 36 parts of 32,768
/// buckets, 85% full.
pub(super) fn least_buckets_split(entries: u64, fewest: u64, most: u64) -> u64 {
    let buckets = |parts: u64| {
        let share = entries.div_ceil(parts);
        let margin = 4 * share.isqrt() + 16;
        let needed = share.saturating_add(margin).saturating_mul(8) / 7 + 1;
        needed.next_power_of_two().saturating_mul(parts)
    };
    (fewest..=most)
        .rev()
        .min_by_key(|&parts| buckets(parts))
        .unwrap_or(most)
}

/// The part of `hash` among `parts`: bits 25..57 scaled onto the count
/// (multiply and shift, no division). Not the low bits (a hash table's
/// bucket) nor the top seven (hashbrown's tags): within a part both still
/// vary.
#[inline]
pub(super) fn part_of(hash: u64, parts: usize) -> usize {
    ((((hash >> 25) & 0xFFFF_FFFF) * parts as u64) >> 32) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_entries_split_into_36_parts() {
        assert_eq!(least_buckets_split(1_000_000, 16, 64), 36);
        assert_eq!(least_buckets_split(1_000_000, 1, 64), 36);
    }

    #[test]
    fn the_largest_capacity_does_not_overflow() {
        for fewest in [1, 16] {
            let parts = least_buckets_split(u64::MAX, fewest, 64);
            assert!((fewest..=64).contains(&parts));
        }
    }

    #[test]
    fn parts_cover_every_index() {
        assert_eq!(part_of(0, 36), 0);
        assert_eq!(part_of(u64::MAX, 36), 35);
        assert_eq!(part_of(u64::MAX, 1), 0);
    }
}
