//! A plain (non-atomic) copy of histogram counts, and the read side:
//! quantiles, minimum, maximum, mean, merge.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use super::error::LayoutMismatch;
use super::layout::{HistogramConfig, Layout};
use crate::sync::Arc;

/// Counts copied out of a [`Histogram`](super::Histogram) or a
/// [`Window`](super::Window), answering quantile questions.
///
/// Quantiles use the nearest-rank definition (the value at rank
/// `ceil(q · count)` in sorted order) and are within the configured
/// relative error of that exact value, for values inside the configured
/// range. `min` and `max` are exact. `mean` is computed from the buckets, so
/// it too is within the relative error.
///
/// # Clone
///
/// Cloning copies the counts (one `u64` per bucket).
///
/// ```
/// use brace::metrics::{Histogram, HistogramConfig};
/// use core::time::Duration;
///
/// let h = Histogram::new(HistogramConfig::default());
/// for ms in 1..=100 {
///     h.record(Duration::from_millis(ms));
/// }
/// let s = h.snapshot();
/// assert_eq!(s.count(), 100);
/// let p99 = s.quantile(0.99).unwrap().as_secs_f64();
/// assert!((p99 - 0.099).abs() <= 0.099 * 0.01);
/// assert_eq!(s.max(), Some(Duration::from_millis(100)));
/// ```
#[derive(Clone)]
pub struct HistogramSnapshot {
    layout: Arc<Layout>,
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
}

impl HistogramSnapshot {
    pub(crate) fn empty(layout: Arc<Layout>) -> Self {
        let len = layout.len();
        HistogramSnapshot {
            layout,
            counts: vec![0; len],
            total: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Adds `count` samples to bucket `index` (used while copying).
    #[inline]
    pub(crate) fn add_bucket(&mut self, index: usize, count: u64) {
        self.counts[index] += count;
        self.total += count;
    }

    /// Widens the exact extremes seen (used while copying).
    pub(crate) fn add_extremes(&mut self, min: u64, max: u64) {
        self.min = self.min.min(min);
        self.max = self.max.max(max);
    }

    /// Adds one copied histogram or window slot: its bucket `counts` and
    /// its extremes (`min`, `max`, read before the counts). A writer counts
    /// a sample in its bucket before it writes the extremes, so a copy that
    /// races a sample can see its count without its extreme: extremes still
    /// at their empty values (`min > max`) for a slot's first sample, or a
    /// `max` below a bucket the copy counts (a `min` above one). Such an
    /// extreme is widened to the value of the copy's outermost non-empty
    /// bucket (within the relative error), so the copy never reports a
    /// maximum of 584 years and quantiles of zero, nor a maximum (and
    /// quantiles clamped to it) below a sample it counted.
    pub(crate) fn add_copy(&mut self, counts: impl IntoIterator<Item = u64>, min: u64, max: u64) {
        let mut occupied: Option<(usize, usize)> = None;
        for (i, c) in counts.into_iter().enumerate().filter(|(_, c)| *c > 0) {
            self.add_bucket(i, c);
            occupied = Some(occupied.map_or((i, i), |(first, _)| (first, i)));
        }
        let Some((first, last)) = occupied else {
            return;
        };
        let value = |i: usize| (self.layout.representative(i) + 0.5) as u64;
        if min > max {
            self.add_extremes(value(first), value(last));
            return;
        }
        let min = if self.layout.index(min) > first {
            value(first)
        } else {
            min
        };
        let max = if self.layout.index(max) < last {
            value(last)
        } else {
            max
        };
        self.add_extremes(min, max);
    }

    /// The configuration the counts were recorded with.
    pub fn config(&self) -> &HistogramConfig {
        self.layout.config()
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The smallest sample (exact), or `None` when empty.
    pub fn min(&self) -> Option<Duration> {
        (self.total > 0).then(|| Duration::from_nanos(self.min.min(self.max)))
    }

    /// The largest sample (exact), or `None` when empty.
    pub fn max(&self) -> Option<Duration> {
        (self.total > 0).then(|| Duration::from_nanos(self.max.max(self.min)))
    }

    /// The mean of the samples, from bucket values (within the relative
    /// error for in-range samples), or `None` when empty.
    pub fn mean(&self) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let sum: f64 = self
            .counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| *c as f64 * self.layout.representative(i))
            .sum();
        Some(self.clamp(sum / self.total as f64))
    }

    /// The value at quantile `q` (0.5 is the median, 0.99 the p99), or
    /// `None` when empty. `q = 0` gives the minimum and `q = 1` the maximum.
    ///
    /// # Panics
    ///
    /// Panics if `q` is not within `0.0 ..= 1.0` (NaN included).
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        assert!((0.0..=1.0).contains(&q), "quantile {q} is outside 0..=1");
        if self.total == 0 {
            return None;
        }
        if q == 0.0 {
            return self.min();
        }
        if q == 1.0 {
            return self.max();
        }
        let rank = nearest_rank(q, self.total);
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(self.clamp(self.layout.representative(i)));
            }
        }
        self.max()
    }

    /// Adds `other`'s samples to this snapshot.
    ///
    /// # Errors
    ///
    /// [`LayoutMismatch`] if the two were recorded with different
    /// configurations; `self` is left unchanged.
    pub fn merge(&mut self, other: &HistogramSnapshot) -> Result<(), LayoutMismatch> {
        if !self.layout.same_as(&other.layout) {
            return Err(LayoutMismatch);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.add_extremes(other.min, other.max);
        Ok(())
    }

    /// Non-empty buckets in ascending order, as (reported value, count).
    pub fn buckets(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (self.clamp(self.layout.representative(i)), *c))
    }

    /// A bucket value, rounded to whole nanoseconds and kept within the
    /// exact extremes (which can only bring it closer to the truth).
    fn clamp(&self, value: f64) -> Duration {
        // `as` saturates; values are positive, so +0.5 rounds to nearest.
        let nanos = (value + 0.5) as u64;
        Duration::from_nanos(nanos.clamp(self.min.min(self.max), self.max))
    }
}

/// `x.ceil()` for non-negative `x`, without `std`'s float functions.
fn ceil(x: f64) -> u64 {
    let whole = x as u64;
    if (whole as f64) < x { whole + 1 } else { whole }
}

/// The nearest rank of quantile `q` (strictly between 0 and 1) among
/// `count` samples: the smallest rank `r` with `r / count ≥ q`.
///
/// `ceil(q · count)` alone is one rank too high whenever the product rounds
/// up past a whole number: `0.55 * 100.0` is 55.000000000000007, which
/// made the p55 of 100 samples the 56th and the p7 of 1..=100 ms 8 ms
/// (14% off). A ratio is compared instead (`55.0 / 100.0` is the same
/// double as `0.55`), stepping down from the product's ceiling.
fn nearest_rank(q: f64, count: u64) -> u64 {
    let n = count as f64;
    let mut rank = ceil(q * n).clamp(1, count);
    while rank > 1 && (rank - 1) as f64 / n >= q {
        rank -= 1;
    }
    while rank < count && (rank as f64) / n < q {
        rank += 1;
    }
    rank
}

impl fmt::Debug for HistogramSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistogramSnapshot")
            .field("count", &self.total)
            .field("min", &self.min())
            .field("max", &self.max())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_that_raced_a_first_sample_reports_its_bucket_not_absurd_extremes() {
        let layout = Arc::new(Layout::new(HistogramConfig::default()));
        let mut counts = vec![0u64; layout.len()];
        counts[layout.index(5_000)] = 1;
        let mut s = HistogramSnapshot::empty(Arc::clone(&layout));
        // The bucket is counted; the extremes still read empty.
        s.add_copy(counts, u64::MAX, 0);
        let error = layout.config().relative_error();
        let near_5000 = |d: Option<Duration>| {
            let nanos = d.expect("a sample").as_nanos() as f64;
            (nanos - 5_000.0).abs() <= 5_000.0 * error + 1.0
        };
        assert!(near_5000(s.max()), "max {:?}", s.max());
        assert!(near_5000(s.min()), "min {:?}", s.min());
        assert!(near_5000(s.quantile(0.5)), "p50 {:?}", s.quantile(0.5));
    }

    #[test]
    fn written_extremes_stay_exact() {
        let layout = Arc::new(Layout::new(HistogramConfig::default()));
        let mut counts = vec![0u64; layout.len()];
        counts[layout.index(5_000)] = 1;
        counts[layout.index(70_000)] = 1;
        let mut s = HistogramSnapshot::empty(Arc::clone(&layout));
        s.add_copy(counts, 5_000, 70_000);
        assert_eq!(s.min(), Some(Duration::from_nanos(5_000)));
        assert_eq!(s.max(), Some(Duration::from_nanos(70_000)));
    }
}
