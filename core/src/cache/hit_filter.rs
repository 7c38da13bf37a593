//! Which read hits are worth telling the eviction policy about.
//!
//! Reporting a hit costs the policy a few cache misses on structures as
//! large as the cache (the entry's node and its neighbours, the frequency
//! sketch): most of a read's time in a large cache. But a hit on
//! an entry that was reported a moment ago changes almost nothing: the
//! entry is already near the most recent end of its queue and its frequency
//! counter is already high. So a large cache reports a hit only if the
//! entry's last report is at least `gap` policy events old.
//!
//! * `tick` counts the read events the policy has consumed, in units of
//!   about `gap / 64` events (the drainer adds each batch under the policy
//!   lock and carries the remainder; readers only load it).
//! * Each slot keeps `reported`, a 16-bit stamp: the tick of its last
//!   reported hit (14 bits, wrapping) and a 2-bit level (how many of its
//!   early reports it has had, below). A new slot starts half the stamp
//!   range in the past: never reported. Counting in ticks rather than
//!   events is what lets the stamp fit in 16 bits (the slot is 32 bytes for
//!   `u64` keys and values): 16,384 ticks are 256 gaps of a large cache
//!   (64 ticks each; a smaller cache's gap is 32 to 127 ticks, so these
//!   figures scale), and an entry last reported longer ago than that may
//!   be misjudged as recent, which delays one report. A new entry first hit
//!   between 128 and 192 gaps after it was written is taken for one
//!   reported before: it loses its `gap / 16` report. A stamp more than 64
//!   gaps old counts as never reported: the entry starts its early reports
//!   again.
//! * `gap` is the number of resident entries once the cache holds at least
//!   4,096 of them: an entry is reported about once per turnover of the
//!   cache, the granularity a CLOCK hand gives. From 64 to 4,096 entries it
//!   is half the resident entries, and below 64 it is 0 (every hit is
//!   reported). Small caches once reported every hit, but a report costs
//!   the policy the same work at any size (the real policy and its
//!   window-size shadows each count and move the entry; a cache this small
//!   replays every request in its shadows), so a hit on a 1,000-entry
//!   cache cost about 300 ns against quick_cache's 15–20.
//! * Except early on: an entry's second report needs only `gap / 16`
//!   events, its third `gap / 4`, and only the later ones the whole gap.
//!   The first hit moves a new entry within the window; the second is the
//!   one that promotes it out of probation, and a hot newcomer that waited
//!   a whole turnover for it would be evicted first; the third adds to its
//!   count in the frequency sketch before an admission contest against
//!   entries that have been hot for a long time. Nine caches with their own
//!   seeds each (`compare hitratio` rows), medians, two reports against
//!   three: `scan` at 500 entries 22.36 against 22.70 (best peer 23.41),
//!   `zipf-1.0-drift` at 10,000 71.70 against 71.92 (LRU 72.81), `zigzag`
//!   at 1,000 46.56 against 46.80, `multi1` at 500 54.75 against 54.82,
//!   `sprite` at 1,000 90.17 against 89.87 (LRU 90.64); `loop` at 1,000
//!   98.59 against 98.67. A third report at `gap / 2` lost most of the gain.
//! * A write that replaces a resident key's value is a hit like a read:
//!   the new slot inherits the old one's stamp and is filtered the same way.
//!
//! Measured (`compare hitratio`, full run), gap as a fraction of the
//! entries: on the Zipf rows at 10,000 entries the hit ratio is the same
//! to ±0.05 point with 1/16, 1/2 or all, with or without the early second
//! report. On `zipf-1.0-drift` at 10,000 entries (each eighth of the
//! requests goes to keys never seen before): 72.5% with 1/16, 72.2% with
//! 1/2, 71.3% with all, 71.7% with all and the early second report (best
//! peer 71.9%, LRU 72.8%). A read of a 100,000-entry cache (`compare
//! cache`'s workload: Zipf 1.0, every key resident, so misses never
//! advance the clock) costs about 280 ns with 1/16, 95 with 1/2, 37 with
//! all and about 52 with all and the early second report, the choice
//! here.
//!
//! Small caches, same workloads: reading a 1,000-entry cache whose keys
//! are all resident (Zipf 1.0, one thread) costs about 300 ns reporting
//! every hit, 144–160 with a gap of a quarter of the entries, 64–75 with
//! half and 28 with all of them. Hit ratios are the same within the
//! run-to-run spread except on the recency-friendly `sprite` trace, which
//! wants hits reported: at 1,000 entries 90.0% reporting every hit, 90.1%
//! with a quarter, 89.9% with half, 88.9% with all (LRU 90.6%). Half is the
//! choice below 4,096 entries.
//!
//! All of it is relaxed and approximate by design: two threads may both
//! report one entry's hit, or a reader may see a stale `gap`; either only
//! changes how many hits the policy hears of, never what the cache holds.

use crate::sync::{AtomicU16, AtomicU32, AtomicU64, CachePadded, Ordering};

/// Caches smaller than this report every hit.
const FILTER_FROM_ENTRIES: usize = 64;
/// From this many entries a settled entry is reported once per turnover.
const LARGE_FROM_ENTRIES: usize = 4096;
/// Below `LARGE_FROM_ENTRIES`, a settled entry is reported once per this
/// fraction of the resident entries' worth of policy events.
const SMALL_GAP_DIVISOR: usize = 2;
/// A new entry's second report comes after this fraction of the gap...
const SECOND_REPORT_DIVISOR: u32 = 16;
/// ...its third after this fraction, every later one after the whole gap.
const THIRD_REPORT_DIVISOR: u32 = 4;
/// Ticks per gap, when the gap is at least this many events.
const TICKS_PER_GAP: u32 = 64;
/// A stamp's low bits are its level: 0 after an entry's first report, 1
/// after its second, 2 after its third or later.
const LEVEL_BITS: u32 = 2;
const LEVEL_MASK: u16 = (1 << LEVEL_BITS) - 1;
const SETTLED_LEVEL: u16 = 2;
/// A stamp's tick is its top 14 bits; elapsed ticks wrap at this.
const TICK_RANGE: u32 = 1 << (16 - LEVEL_BITS);

/// Bits of [`Epoch::clock`] below the thresholds: the current tick as a
/// stamp.
const THRESHOLDS_SHIFT: u32 = 16;
/// Bits per level's threshold in [`Epoch::clock`]. A threshold is at most
/// the span, which is under 128 ticks (see [`HitFilter::advance`]).
const THRESHOLD_BITS: u32 = 8;

#[derive(Debug)]
struct Epoch {
    /// What a reader needs, in one word so a hit loads it once: the low
    /// 16 bits are the current tick as a stamp (level 0), and from
    /// `THRESHOLDS_SHIFT` up, a byte per stamp level holds the ticks a
    /// report at that level needs (levels 0 to 3: the second report's, the
    /// third's, the settled one's and the settled one's again, since level
    /// 3 is never stored). All thresholds 0: every hit is reported.
    clock: AtomicU64,
    /// Events per tick; 0 when every hit is reported (the drainer's).
    unit: AtomicU32,
    /// Events consumed since the last tick (the drainer's, under the
    /// policy lock; an atomic only to be shared).
    carried: AtomicU32,
}

/// The policy-event clock that decides which hits are reported.
#[derive(Debug)]
pub(super) struct HitFilter {
    clock: CachePadded<Epoch>,
}

impl HitFilter {
    pub(super) fn new() -> Self {
        HitFilter {
            clock: CachePadded::new(Epoch {
                clock: AtomicU64::new(0),
                unit: AtomicU32::new(0),
                carried: AtomicU32::new(0),
            }),
        }
    }

    /// The current tick as a stamp (level 0).
    #[inline]
    fn now(&self) -> u16 {
        self.clock.clock.load(Ordering::Relaxed) as u16
    }

    /// The `reported` stamp of a new slot: never reported.
    pub(super) fn never(&self) -> u16 {
        self.now()
            .wrapping_sub(((TICK_RANGE / 2) << LEVEL_BITS) as u16)
    }

    /// Whether to report a hit on the slot whose stamp is `reported`; if so,
    /// stamps it with the current tick.
    ///
    /// The stamp's level says how many early reports the entry has had: its
    /// second report needs only `gap / SECOND_REPORT_DIVISOR` events, its
    /// third `gap / THIRD_REPORT_DIVISOR` (a new entry's early hits move it
    /// out of probation and count it in the sketch), later ones the full
    /// `gap`.
    #[inline]
    pub(super) fn admit(&self, reported: &AtomicU16) -> bool {
        let clock = self.clock.clock.load(Ordering::Relaxed);
        let thresholds = clock >> THRESHOLDS_SHIFT;
        if thresholds == 0 {
            return true;
        }
        let now = clock as u16;
        let stamp = reported.load(Ordering::Relaxed);
        let elapsed = u32::from(now.wrapping_sub(stamp & !LEVEL_MASK) >> LEVEL_BITS);
        let level = stamp & LEVEL_MASK;
        let needed = (thresholds >> (THRESHOLD_BITS * u32::from(level))) as u32
            & ((1 << THRESHOLD_BITS) - 1);
        if elapsed < needed {
            return false;
        }
        // A stamp more than a quarter of the range old counts as `never`
        // (which starts half the range back): this is a first report.
        let first = elapsed >= TICK_RANGE / 4;
        let level = if first {
            0
        } else {
            (level + 1).min(SETTLED_LEVEL)
        };
        reported.store(now | level, Ordering::Relaxed);
        true
    }

    /// After the policy consumed `events` read events with `entries`
    /// resident. Called only by the drainer (under the policy lock).
    pub(super) fn advance(&self, events: usize, entries: usize) {
        let gap = if entries >= LARGE_FROM_ENTRIES {
            entries.min(u32::MAX as usize) as u32
        } else if entries >= FILTER_FROM_ENTRIES {
            (entries / SMALL_GAP_DIVISOR) as u32
        } else {
            0
        };
        let epoch = &*self.clock;
        let unit = if gap == 0 {
            0
        } else {
            (gap / TICKS_PER_GAP).max(1)
        };
        // The span depends on the gap, not only on the unit: below 128
        // entries' worth of gap the unit stays 1 while the gap grows. It
        // is under 128 ticks: the gap itself below 128 events, else at
        // most `64 + ⌈63 / unit⌉` with a unit of at least 2.
        let span = if unit == 0 { 0 } else { gap.div_ceil(unit) };
        debug_assert!(span < 1 << THRESHOLD_BITS);
        let thresholds = if unit == 0 {
            0
        } else {
            let levels = [
                (span / SECOND_REPORT_DIVISOR).max(1),
                (span / THIRD_REPORT_DIVISOR).max(1),
                span,
                span,
            ];
            levels
                .iter()
                .enumerate()
                .fold(0u64, |word, (level, &needed)| {
                    word | u64::from(needed) << (THRESHOLD_BITS * level as u32)
                })
        };
        if epoch.unit.load(Ordering::Relaxed) != unit {
            epoch.unit.store(unit, Ordering::Relaxed);
        }
        let carried = u64::from(epoch.carried.load(Ordering::Relaxed)) + events as u64;
        let (ticks, rest) = match unit {
            0 => (carried, 0),
            unit => (carried / u64::from(unit), carried % u64::from(unit)),
        };
        epoch.carried.store(rest as u32, Ordering::Relaxed);
        let clock = epoch.clock.load(Ordering::Relaxed);
        // Only the tick's low 14 bits are kept, as the stamp's top bits.
        let now = (clock as u16).wrapping_add(((ticks as u32) << LEVEL_BITS) as u16);
        let updated = thresholds << THRESHOLDS_SHIFT | u64::from(now);
        if updated != clock {
            epoch.clock.store(updated, Ordering::Relaxed);
        }
    }
}
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn small_caches_report_every_hit() {
        let f = HitFilter::new();
        let stamp = AtomicU16::new(f.never());
        f.advance(10, FILTER_FROM_ENTRIES - 1);
        assert!(f.admit(&stamp) && f.admit(&stamp) && f.admit(&stamp));
    }

    #[test]
    fn a_large_cache_reports_an_entry_once_per_gap() {
        let f = HitFilter::new();
        let entries = LARGE_FROM_ENTRIES * 2;
        let gap = entries as u32;
        let early = gap / SECOND_REPORT_DIVISOR;
        let later = gap / THIRD_REPORT_DIVISOR;
        f.advance(0, entries);
        let stamp = AtomicU16::new(f.never());
        assert!(f.admit(&stamp), "a new entry's first hit is reported");
        assert!(!f.admit(&stamp), "and not the next one");
        f.advance(early as usize - 2, entries);
        assert!(!f.admit(&stamp), "short of the early gap: too soon");
        f.advance(2, entries);
        assert!(f.admit(&stamp), "the early gap later: the second report");
        f.advance(later as usize - 2, entries);
        assert!(!f.admit(&stamp), "short of a quarter gap: too soon");
        f.advance(2, entries);
        assert!(f.admit(&stamp), "a quarter gap later: the third report");
        f.advance(gap as usize - 2, entries);
        assert!(!f.admit(&stamp), "short of the full gap: too soon");
        f.advance(2, entries);
        assert!(f.admit(&stamp), "a full gap later: reported again");
        assert!(!f.admit(&stamp));
        f.advance(gap as usize, entries);
        assert!(f.admit(&stamp), "and once per full gap from then on");
    }

    #[test]
    fn the_gap_follows_a_cache_that_grows_while_the_unit_stays_one() {
        // From 64 to 255 entries the gap (half of them) is under 128
        // events, so a tick stays one event while the gap grows.
        let f = HitFilter::new();
        f.advance(0, 64);
        f.advance(0, 250);
        let stamp = AtomicU16::new(f.never());
        assert!(f.admit(&stamp), "first report");
        f.advance(125 / SECOND_REPORT_DIVISOR as usize, 250);
        assert!(f.admit(&stamp), "second report");
        f.advance(125usize.div_ceil(THIRD_REPORT_DIVISOR as usize), 250);
        assert!(f.admit(&stamp), "third report");
        f.advance(124, 250);
        assert!(!f.admit(&stamp), "a settled entry waits the gap of 125");
        f.advance(1, 250);
        assert!(f.admit(&stamp));
    }

    #[test]
    fn an_entry_idle_for_a_quarter_of_the_range_starts_its_early_reports_again() {
        let f = HitFilter::new();
        let entries = LARGE_FROM_ENTRIES * 2;
        let gap = entries;
        f.advance(0, entries);
        let stamp = AtomicU16::new(f.never());
        for _ in 0..4 {
            assert!(f.admit(&stamp));
            f.advance(gap, entries);
        }
        assert_eq!(stamp.load(Ordering::Relaxed) & LEVEL_MASK, SETTLED_LEVEL);
        f.advance(gap * 64, entries);
        assert!(f.admit(&stamp), "idle for 64 gaps: reported");
        assert_eq!(
            stamp.load(Ordering::Relaxed) & LEVEL_MASK,
            0,
            "as a first report"
        );
        f.advance(gap / SECOND_REPORT_DIVISOR as usize, entries);
        assert!(f.admit(&stamp), "so its second comes early again");
    }

    #[test]
    fn a_small_cache_reports_an_entry_once_per_half_turnover() {
        let f = HitFilter::new();
        let entries = 1000;
        let gap = (entries / SMALL_GAP_DIVISOR) as u32;
        f.advance(0, entries);
        let stamp = AtomicU16::new(f.never());
        assert!(f.admit(&stamp), "a new entry's first hit is reported");
        f.advance((gap / SECOND_REPORT_DIVISOR) as usize + 2, entries);
        assert!(f.admit(&stamp), "its second after the early gap");
        f.advance((gap / THIRD_REPORT_DIVISOR) as usize + 2, entries);
        assert!(f.admit(&stamp), "its third after a quarter gap");
        // Ticks are `gap / 64` = 7 events here, and the clock carries
        // remainders: stay two ticks clear of the boundary either side.
        let unit = (gap / TICKS_PER_GAP) as usize;
        f.advance(gap as usize - 2 * unit, entries);
        assert!(!f.admit(&stamp), "short of half the entries: too soon");
        f.advance(4 * unit, entries);
        assert!(f.admit(&stamp), "half the entries' worth of events later");
    }
}
