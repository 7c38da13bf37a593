//! Choosing the window size by miniature simulation.
//!
//! A W-TinyLFU cache wins on frequency-skewed workloads with a small window
//! and on recency-friendly ones with a large window (at 100% it is an LRU).
//! Which one a workload needs is measured, not guessed: a few *shadow*
//! policies, each a [`Segments`] with a fixed shape from [`SHAPES`] (a
//! window size, whether the main space keeps a protected segment, and how
//! strictly it admits), replay a spatially sampled share of the same
//! requests (the keys whose hash falls in a 1/R slice, at 1/R of the
//! capacity; Waldspurger et al., "Cache Modeling and Optimization using
//! Miniature Simulations", USENIX ATC 2017). At the end of every period the
//! real policy takes the window size of the shadow with the best recent hit
//! count (hits decay by half each period, so the choice follows a changing
//! workload), or at once, mid-period, the window of a shadow whose lead is
//! already three times the switch margin. The shadows run side by side on the same requests, so a
//! workload that drifts moves all of them alike and does not mislead the
//! choice, which a hill climber comparing successive samples of one cache
//! cannot tell apart from the effect of its own last step.
//!
//! Cost: each sampled request is replayed in every shadow. R grows with the
//! capacity so a shadow holds about [`SHADOW_ENTRIES`] or more: small caches
//! replay everything (R = 1), a cache of a million entries replays 1/256.
//! Past 64 (caches of 262,144 entries or more) R keeps growing so that the
//! shadows stay near 2,048 to 4,096 entries rather than a fixed share of the
//! cache: what a shadow's choice rests on is how many requests it replays
//! per period, and a period lasts four capacities' worth of the cache's own
//! requests whatever R is. At a million entries the shadows took 2.4 bytes
//! per entry with R = 64 and take 0.8 with 256 (`cache_bytes`: 71.5 → 69.9
//! for the whole cache).

use alloc::vec::Vec;

use super::nodes::SHADOW_RESERVE;
use super::sketch::{FrequencySketch, spread};
use super::wtinylfu::Segments;

/// A shape the tuner can give the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    /// The window's share, in thousandths of the capacity.
    pub(super) window_permille: u64,
    /// Whether the main space keeps a protected segment (80% of it).
    pub(super) protected: bool,
    /// How many counts more than its victim an admitted candidate has, at
    /// the least, minus one: 0 admits on any lead, 1 on a lead of two.
    pub(super) admission_margin: u8,
}

const fn shape(window_permille: u64, protected: bool) -> Shape {
    Shape {
        window_permille,
        protected,
        admission_margin: 0,
    }
}

/// `shape` with strict admission (see [`SHAPES`]).
const fn strict(shape: Shape) -> Shape {
    Shape {
        admission_margin: 1,
        ..shape
    }
}

/// The shapes tried: with a protected segment, windows of 0 (pure
/// TinyLFU), Caffeine's default 1%, two middle points and 100% (LRU); pure
/// TinyLFU over a plain LRU main space, as moka and mini-moka run it; and
/// pure TinyLFU with a protected segment whose admission is strict (a
/// candidate must lead its victim by two counts, not one).
///
/// The sixth is for scans: on the LIRS `scan` trace at 500 entries every
/// window with a protected segment scored at most 22.18% (the protected
/// segment keeps entries a scan touched once more) against mini-moka's
/// 23.5; with this shadow the policy scores 22.73, and `loop` at 512
/// entries 50.51 (OPT 50.54) against 49.90, every other row of `compare
/// hitratio --quick`'s `policy` column within 0.12 point. Without a
/// protected segment everywhere, OLTP and the Zipf rows lost 1 to 2
/// points, so it is a choice, not the default.
///
/// The seventh is for loops longer than the cache (`scan` is one: 2,001
/// keys in order, 25 times). There any fixed set of keys hits once per
/// pass, but at its turn a key's count includes the request it is being
/// admitted for while the resident it faces was last seen a pass ago, so
/// with exact counts every newcomer wins and the cache churns like an LRU.
/// Which keys stay was decided by the sketch's collisions, so the `scan`
/// rows were a draw on the hash seed (nine seeds: 21.0 to 23.4% at 500
/// entries). Strict admission holds one set: the `policy` column (five
/// seeds) went from 22.45 / 47.24 / 71.78% to 23.89 / 47.93 / 71.93% at
/// 500 / 1,000 / 1,500 entries (OPT 23.99 / 47.98 / 71.96). Strict
/// admission everywhere also won 0.1 to 0.5 point on OLTP and Zipf but lost
/// 0.5 on `zigzag` at 1,000, `loop` at 512 and 0.35 on `sprite` at 1,000,
/// where newcomers must win; strict over a plain LRU main space (the
/// sixth's twin) lost 0.7 on `multi1` at 500, this one 0.4 there, and
/// every other row moved by at most 0.15.
pub(super) const SHAPES: [Shape; 7] = [
    shape(0, true),
    shape(10, true),
    shape(200, true),
    shape(500, true),
    shape(1000, true),
    shape(0, false),
    strict(shape(0, true)),
];
/// The choice a new policy starts with (1%, protected).
pub(super) const INITIAL_CHOICE: usize = 1;
/// A shadow is given at least about this much of the capacity, in weight.
const SHADOW_ENTRIES: u64 = 2048;
/// At least 1/2^16 of the keys are sampled (from 2^28 entries on, the
/// shadows grow past 4,096 entries).
const MAX_SAMPLE_SHIFT: u32 = 16;
/// A period lasts this many sampled reads per unit of shadow capacity...
const PERIOD_PER_CAPACITY: u64 = 4;
/// ...and at least this many.
const PERIOD_MIN: u64 = 1024;
/// Within a period, every this many sampled reads...
const CHECK_EVERY: u64 = 128;
/// ...the window switches at once to a shadow that leads by this many
/// switch margins.
const EARLY_MARGINS: u64 = 3;

/// Shadow policies and their recent hit counts.
#[derive(Debug)]
pub(super) struct WindowTuner {
    shadows: Vec<Segments>,
    /// The shadows' one frequency sketch: they replay the same requests, so
    /// their sketches would be copies of each other. `None` when every key
    /// is replayed (`sample_shift` 0): then the policy's own sketch, of the
    /// same size, has counted exactly the same requests, and the shadows
    /// use it (see [`WindowTuner::counted`]).
    sketch: Option<FrequencySketch>,
    hits: Vec<u64>,
    scores: Vec<u64>,
    /// Keys whose mixed hash has its top `sample_shift` bits clear are
    /// replayed: 1 in 2^sample_shift.
    sample_shift: u32,
    reads: u64,
    /// Reads decayed like the scores: `scores[i]` hits out of this many.
    decayed_reads: u64,
    period: u64,
    best: usize,
    scratch: Vec<u64>,
}

impl WindowTuner {
    /// Shadows for a cache of `capacity` entries.
    #[cfg(test)]
    fn new(capacity: u64) -> Self {
        Self::with_entries(capacity, capacity, INITIAL_CHOICE)
    }

    /// Shadows for a cache of total weight `capacity` that holds about
    /// `entries` entries (a weighted cache), starting from shape `best`.
    /// The sample is chosen by entries, not weight: a cache of a thousand
    /// 1 MiB values replays every key into shadows of the whole capacity,
    /// where sampling by weight (1 key in 2^16) would leave shadows of a
    /// fraction of one entry.
    pub(super) fn with_entries(capacity: u64, entries: u64, best: usize) -> Self {
        let sample_shift = Self::sample_shift_for(entries);
        let shadow_capacity = capacity >> sample_shift;
        let shadow_entries = (entries >> sample_shift).max(1);
        let shadows = SHAPES
            .iter()
            .map(|s| {
                let window = share(shadow_capacity, s.window_permille);
                let mut shadow = Segments::new(
                    shadow_capacity,
                    window,
                    s.protected,
                    shadow_entries.min(SHADOW_RESERVE),
                );
                shadow.set_admission_margin(s.admission_margin);
                shadow
            })
            .collect();
        WindowTuner {
            shadows,
            sketch: (sample_shift > 0).then(|| FrequencySketch::new(shadow_entries)),
            hits: alloc::vec![0; SHAPES.len()],
            scores: alloc::vec![0; SHAPES.len()],
            sample_shift,
            reads: 0,
            decayed_reads: 0,
            period: (shadow_entries * PERIOD_PER_CAPACITY).max(PERIOD_MIN),
            best,
            scratch: Vec::new(),
        }
    }

    /// How many bits of a key's mixed hash must be clear for the key to be
    /// replayed, for a cache of about `entries` entries.
    pub(super) fn sample_shift_for(entries: u64) -> u32 {
        (entries / SHADOW_ENTRIES)
            .max(1)
            .ilog2()
            .min(MAX_SAMPLE_SHIFT)
    }

    /// The sample shift in use.
    pub(super) fn sample_shift(&self) -> u32 {
        self.sample_shift
    }

    /// The index in [`SHAPES`] of the shape currently chosen.
    pub(super) fn best(&self) -> usize {
        self.best
    }

    /// The sketch the shadows admit by, after counting one request for
    /// `hash` in it if `count`: their own for a sample of the keys, else the
    /// policy's, which the policy has already counted it in.
    fn counted<'a>(
        own: &'a mut Option<FrequencySketch>,
        policy: &'a FrequencySketch,
        hash: u64,
        count: bool,
    ) -> &'a FrequencySketch {
        Self::counted_spread(own, policy, || spread(hash), count)
    }

    /// [`counted`](Self::counted) given a way to the hash put through
    /// `spread`.
    #[inline]
    fn counted_spread<'a>(
        own: &'a mut Option<FrequencySketch>,
        policy: &'a FrequencySketch,
        mixed: impl FnOnce() -> u64,
        count: bool,
    ) -> &'a FrequencySketch {
        match own {
            Some(sketch) => {
                if count {
                    sketch.increment_spread(mixed());
                }
                sketch
            }
            None => policy,
        }
    }

    /// Whether requests for `hash` are replayed in the shadows.
    fn sampled(&self, hash: u64) -> bool {
        self.sample_shift == 0
            || (hash.wrapping_mul(0xA076_1D64_78BD_642F) >> (64 - self.sample_shift)) == 0
    }

    /// Replays a read of `hash`; `resident_weight` is its weight when the
    /// real cache hit (a shadow that misses then inserts it at once; on a
    /// real miss the shadows wait for [`WindowTuner::insert`]); `count`
    /// says whether the policy counted it in its sketch. Returns the
    /// shape to switch to when a period ends with a new best shadow, or when
    /// one leads clearly mid-period. `mixed` is `hash` put through
    /// `spread`, computed once by the caller for every table.
    pub(super) fn read(
        &mut self,
        hash: u64,
        mixed: u64,
        resident_weight: Option<u32>,
        count: bool,
        policy_sketch: &FrequencySketch,
    ) -> Option<Shape> {
        if !self.sampled(hash) {
            return None;
        }
        let sketch = Self::counted_spread(&mut self.sketch, policy_sketch, || mixed, count);
        for (shadow, hits) in self.shadows.iter_mut().zip(&mut self.hits) {
            if shadow.touch_spread(hash, mixed) {
                *hits += 1;
            } else if let Some(weight) = resident_weight {
                self.scratch.clear();
                shadow.insert(hash, weight, &mut self.scratch, sketch);
            }
        }
        self.reads += 1;
        if self.reads < self.period {
            if self.reads % CHECK_EVERY == 0 {
                return self.switch_early();
            }
            return None;
        }
        self.reads = 0;
        self.end_period()
    }

    /// Replays an insert of `hash` (counted in the sketches when it was not
    /// just read).
    pub(super) fn insert(
        &mut self,
        hash: u64,
        weight: u32,
        count: bool,
        policy_sketch: &FrequencySketch,
    ) {
        if !self.sampled(hash) {
            return;
        }
        let sketch = Self::counted(&mut self.sketch, policy_sketch, hash, count);
        for shadow in &mut self.shadows {
            if shadow.weight_of(hash).is_none() {
                self.scratch.clear();
                shadow.insert(hash, weight, &mut self.scratch, sketch);
            }
        }
    }

    /// Replays a change of weight.
    pub(super) fn update_weight(
        &mut self,
        hash: u64,
        weight: u32,
        policy_sketch: &FrequencySketch,
    ) {
        if !self.sampled(hash) {
            return;
        }
        let sketch = Self::counted(&mut self.sketch, policy_sketch, hash, false);
        for shadow in &mut self.shadows {
            self.scratch.clear();
            shadow.update_weight(hash, weight, &mut self.scratch, sketch);
        }
    }

    /// Replays a removal.
    pub(super) fn remove(&mut self, hash: u64) {
        if self.sampled(hash) {
            self.shadows
                .iter_mut()
                .for_each(|shadow| shadow.remove(hash));
        }
    }

    /// Switches to a shadow that leads the current one by `EARLY_MARGINS`
    /// switch margins, counting the period so far on top of the decayed
    /// scores, without ending the period (ending it early would decay the
    /// scores faster than one period's worth of reads warrants).
    ///
    /// A clear lead is acted on at once because a period is long: four reads
    /// per entry of shadow capacity. On the LIRS `zigzag` trace at 500
    /// entries (52,000 requests, a reversal every 2,000) the LRU shadow's
    /// lead showed 500 reads into the second period, but the window waited
    /// for its end and missed the next reversal too: 22.17% against LRU's
    /// 23.99. Switching mid-period: 23.07%. On `zipf-1.0-drift` at 10,000
    /// entries (a new key space every eighth of the trace) the policy went
    /// from 64.57% to 67.27% (LRU 68.99%), `sprite` at 1,000 from 89.95% to
    /// 90.16%; every other row of `compare hitratio --quick`'s `policy`
    /// column moved by at most 0.06 point. Checking every 64, 128 or 256
    /// reads with 2, 3 or 4 margins gave the same figures to within 0.3
    /// point; 5 margins gave back most of the drift gain.
    fn switch_early(&mut self) -> Option<Shape> {
        let scores: [u64; SHAPES.len()] = core::array::from_fn(|i| self.scores[i] + self.hits[i]);
        self.switch_to_leader(&scores, self.decayed_reads + self.reads, EARLY_MARGINS)
    }

    /// Switches to the best of `scores` (hits out of `reads`) if it leads
    /// the current choice by `margins` switch margins: each the square root
    /// of the current choice's misses.
    fn switch_to_leader(&mut self, scores: &[u64], reads: u64, margins: u64) -> Option<Shape> {
        let current = scores[self.best];
        let bar = current + margins * reads.saturating_sub(current).isqrt();
        // The first of equal leaders, as `max_by_key` keeps the last.
        let leader = (0..scores.len())
            .rev()
            .filter(|&i| scores[i] > bar)
            .max_by_key(|&i| scores[i])?;
        self.best = leader;
        Some(SHAPES[leader])
    }

    /// Folds the period's hits into the decayed scores and returns the new
    /// best shape if another shadow leads by the switch margin.
    ///
    /// The margin is the square root of the current shadow's (decayed)
    /// misses: about one standard deviation of a miss count, so a lead that
    /// noise alone could give does not flip the window (each switch costs
    /// hits while the cache refills), while a high-hit-ratio workload,
    /// whose shadows differ by few misses, still switches on a small lead.
    /// Measured against a fixed margin of 1% of a period's reads (six caches
    /// per case, each with its own hash seed; `compare hitratio` traces):
    /// on the short `multi1` trace at 500 entries (eight periods) one noisy
    /// period sent about one cache in three to the LRU window and back,
    /// 50–51% against 54–55% (mean 51.75); now mean 54.36. `loop` at 1,000
    /// entries 98.66 against 98.03, `scan` at 1,500 71.11 against 70.60, the
    /// other traces within ±0.15 point. A fixed margin of 3% also cured
    /// `multi1` but cost `sprite` at 2,000 entries 0.6 point (its shadows differ by less
    /// than that), 5% cost `zigzag` at 1,500 up to 6 points.
    fn end_period(&mut self) -> Option<Shape> {
        for (score, hits) in self.scores.iter_mut().zip(&mut self.hits) {
            *score = *score / 2 + core::mem::take(hits);
        }
        self.decayed_reads = self.decayed_reads / 2 + self.period;
        let scores: [u64; SHAPES.len()] = core::array::from_fn(|i| self.scores[i]);
        self.switch_to_leader(&scores, self.decayed_reads, 1)
    }
}

/// `permille` thousandths of `capacity`, rounded up.
pub(super) fn share(capacity: u64, permille: u64) -> u64 {
    let whole = capacity / 1000 * permille;
    let part = ((capacity % 1000) * permille).div_ceil(1000);
    whole + part
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_up_and_never_exceed_the_capacity() {
        assert_eq!(share(256, 10), 3);
        assert_eq!(share(1000, 10), 10);
        assert_eq!(share(1000, 0), 0);
        assert_eq!(share(7, 1000), 7);
        assert_eq!(share(u64::MAX, 1000), u64::MAX);
    }

    #[test]
    fn large_caches_replay_a_sample_of_the_keys() {
        let small = WindowTuner::new(1000);
        assert_eq!(small.sample_shift, 0, "small caches replay every key");
        let large = WindowTuner::new(1 << 20);
        assert_eq!(large.sample_shift, 9, "a million entries: shadows of 2,048");
        assert_eq!(large.shadows[0].capacity(), SHADOW_ENTRIES);
        let sampled = (0..1_000_000u64)
            .filter(|&k| large.sampled(spread(k)))
            .count();
        assert!(
            (1700..2200).contains(&sampled),
            "{sampled} of 1000000 sampled"
        );
        let huge = WindowTuner::new(u64::MAX);
        assert_eq!(huge.sample_shift, MAX_SAMPLE_SHIFT);
    }

    #[test]
    fn a_clear_lead_switches_the_window_before_the_period_ends() {
        let mut tuner = WindowTuner::new(100);
        let policy = FrequencySketch::new(100);
        // Every read is replayed (a small cache). 128 reads of 128 keys
        // that no shadow holds: no shadow hits, no switch.
        for key in 0..CHECK_EVERY {
            assert_eq!(tuner.read(key, spread(key), None, true, &policy), None);
        }
        // The LRU shadow now hits 128 times more than the current one
        // over 128 reads: it leads by more than 3 margins (the current
        // shadow has 256 misses, a margin of 16): the window switches at
        // once, a period being 1,024 reads.
        tuner.hits = alloc::vec![0, 0, 0, 0, 128, 0, 0];
        tuner.reads = 2 * CHECK_EVERY - 1;
        assert_eq!(
            tuner.read(1 << 40, spread(1 << 40), None, true, &policy),
            Some(SHAPES[4])
        );
        assert!(tuner.reads < tuner.period, "the period goes on");
        // A lead under three margins waits for the period's end.
        let mut tuner = WindowTuner::new(100);
        tuner.hits = alloc::vec![0, 10, 0, 0, 30, 0, 0];
        tuner.reads = CHECK_EVERY - 1;
        assert_eq!(
            tuner.read(1 << 41, spread(1 << 41), None, true, &policy),
            None
        );
    }

    #[test]
    fn a_shadow_takes_over_only_when_it_leads_by_the_margin() {
        let mut tuner = WindowTuner::new(100);
        assert_eq!(tuner.period, PERIOD_MIN);
        // A period of 1,024 reads: the current shadow (1%) misses 924, so
        // the margin is 30 (the square root). The LRU shadow (fifth) leads
        // by less than that: no switch.
        tuner.hits = alloc::vec![100, 100, 100, 100, 125, 0, 0];
        assert_eq!(tuner.end_period(), None);
        // Now by more: 1,536 decayed reads, 1% at 50 + 30 hits (1,456
        // misses, margin 38), LRU at 62 + 40.
        tuner.hits = alloc::vec![0, 30, 0, 0, 40, 0, 0];
        assert_eq!(tuner.end_period(), None, "a lead of 22");
        tuner.hits = alloc::vec![0, 0, 0, 0, 60, 0, 0];
        assert_eq!(tuner.end_period(), Some(SHAPES[4]));
    }
}
