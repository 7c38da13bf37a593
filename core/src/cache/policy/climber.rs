//! The hill climber that sizes the admission window from the hit rate.
//!
//! The requests are cut into samples of a fixed number of reads. At the end
//! of each sample the climber compares its hit rate with the previous
//! sample's: if the hit rate did not fall, it takes another step in the same
//! direction; if it fell, it turns round. A larger window favours recency
//! (the policy comes closer to LRU), a smaller one favours frequency (closer
//! to TinyLFU with a probation segment). Steps shrink geometrically so the
//! window settles, and grow back to full size when the hit rate jumps by
//! more than [`RESTART_THRESHOLD`], which means the workload changed.
//!
//! This is the adaptation Caffeine uses (Einziger, Eytan, Friedman, Manes,
//! "Adaptive Software Cache Management", Middleware 2018), implemented from
//! its description.

/// A full step is this fraction of the capacity.
const STEP_FRACTION: f64 = 0.0625;
/// Each step is this fraction of the previous one, unless the climber restarts.
const STEP_DECAY: f64 = 0.98;
/// A change of hit rate of at least this much restarts with a full step.
const RESTART_THRESHOLD: f64 = 0.05;
/// A sample lasts this many reads per unit of capacity...
const SAMPLE_PER_CAPACITY: u64 = 10;
/// ...but never fewer than this many reads.
const SAMPLE_MIN: u64 = 512;

/// Hit-rate driven search for the window size.
#[derive(Debug)]
pub(super) struct HillClimber {
    hits: u64,
    misses: u64,
    sample_size: u64,
    previous_hit_rate: f64,
    full_step: f64,
    step: f64,
}

impl HillClimber {
    /// A climber for a cache of `capacity` weight. Its first step grows the
    /// window.
    pub(super) fn new(capacity: u64) -> Self {
        let full_step = (capacity as f64 * STEP_FRACTION).max(1.0);
        HillClimber {
            hits: 0,
            misses: 0,
            sample_size: capacity.saturating_mul(SAMPLE_PER_CAPACITY).max(SAMPLE_MIN),
            previous_hit_rate: 0.0,
            full_step,
            step: full_step,
        }
    }

    /// Counts a read that hit.
    pub(super) fn record_hit(&mut self) {
        self.hits += 1;
    }

    /// Counts a read that missed.
    pub(super) fn record_miss(&mut self) {
        self.misses += 1;
    }

    /// Forgets the current sample (while the cache is still filling, its hit
    /// rate says nothing about the window).
    pub(super) fn restart_sample(&mut self) {
        self.hits = 0;
        self.misses = 0;
    }

    /// At the end of a sample, the change of the window's maximum weight to
    /// apply: positive grows the window (towards recency), negative shrinks
    /// it (towards frequency). `None` while the sample is incomplete.
    pub(super) fn adjustment(&mut self) -> Option<i64> {
        let requests = self.hits + self.misses;
        if requests < self.sample_size {
            return None;
        }
        let hit_rate = self.hits as f64 / requests as f64;
        let change = hit_rate - self.previous_hit_rate;
        let amount = if change >= 0.0 { self.step } else { -self.step };
        let magnitude = if change < 0.0 { -change } else { change };
        self.step = if magnitude >= RESTART_THRESHOLD {
            if amount >= 0.0 {
                self.full_step
            } else {
                -self.full_step
            }
        } else {
            amount * STEP_DECAY
        };
        self.previous_hit_rate = hit_rate;
        self.restart_sample();
        Some(amount as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(climber: &mut HillClimber, hits: u64, misses: u64) -> Option<i64> {
        (0..hits).for_each(|_| climber.record_hit());
        (0..misses).for_each(|_| climber.record_miss());
        climber.adjustment()
    }

    #[test]
    fn keeps_direction_while_the_hit_rate_rises_and_turns_when_it_falls() {
        let mut climber = HillClimber::new(1000);
        assert_eq!(climber.adjustment(), None, "no sample yet");
        // 10_000 reads per sample; first step grows the window by 62.
        assert_eq!(sample(&mut climber, 5000, 5000), Some(62));
        // The rate rose by 1 point: same direction; the next step decays.
        assert_eq!(sample(&mut climber, 5100, 4900), Some(62));
        // The rate fell: turn round, with the decayed step.
        assert_eq!(sample(&mut climber, 5000, 5000), Some(-61));
        // Rose again while shrinking: keep shrinking.
        assert_eq!(sample(&mut climber, 5050, 4950), Some(-60));
    }

    #[test]
    fn a_large_change_of_hit_rate_restarts_with_a_full_step() {
        let mut climber = HillClimber::new(1000);
        assert_eq!(sample(&mut climber, 5000, 5000), Some(62));
        for _ in 0..20 {
            sample(&mut climber, 5000, 5000);
        }
        // Hit rate jumps by 30 points: full step in the rising direction.
        let step = sample(&mut climber, 8000, 2000).unwrap();
        assert!(step.abs() < 62, "decayed step {step}");
        assert_eq!(sample(&mut climber, 8000, 2000).map(i64::abs), Some(62));
    }
}
