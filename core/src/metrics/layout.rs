//! Bucket layout: which bucket a value falls in, and what value a bucket
//! stands for.
//!
//! # Index arithmetic
//!
//! A value `v` (nanoseconds, clamped to `[lowest, highest]`) is split the way
//! HdrHistogram splits it: its *octave* is the position of its top bit,
//! `63 - v.leading_zeros()`, and its *fine bin* is the `m` bits below the top
//! bit, `((v << lz) >> (63 - m)) & (2^m - 1)`. Shifts and masks only: no
//! logarithm, no float.
//!
//! HdrHistogram then uses the fine bin directly as a linear sub-bucket. That
//! wastes precision: to keep 1% at the bottom of an octave it needs 64
//! sub-buckets, which are twice as fine as needed at the top of the octave.
//! Here a small table (built once per configuration, `2^m` entries of `u16`)
//! folds neighbouring fine bins into near-logarithmic sub-buckets, each as
//! wide as the relative error allows. At 1% that is 38 sub-buckets per
//! octave instead of 64, which is what lets a 5-slot (plus spare), 2-stripe
//! window fit in 64 KiB.
//!
//! ```text
//! index(v) = (octave(v) - min_octave) * per_octave + table[fine(v)] - offset
//! ```
//!
//! # Error bound
//!
//! A bucket `[lo, hi)` reports `2·lo·hi / (lo + hi)`, whose distance to any
//! value in the bucket is at most `(hi - lo) / (hi + lo)` relative. The
//! table is built so that this is at most `relative_error - 0.5 / lowest`,
//! which leaves room to round the report to whole nanoseconds.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

use super::error::ConfigError;

/// Smallest relative error a histogram may be configured with.
const MIN_RELATIVE_ERROR: f64 = 0.001;
/// Largest relative error a histogram may be configured with.
const MAX_RELATIVE_ERROR: f64 = 0.1;

/// The precision and range of a histogram: relative error (default 1%) over
/// `lowest ..= highest` (default 1 µs ..= 1 h).
///
/// Values below `lowest` are counted as `lowest` and values above `highest`
/// as `highest` (exact minimum and maximum are still kept). Built with
/// [`HistogramConfig::builder`], which validates every field.
///
/// ```
/// use brace::metrics::HistogramConfig;
/// use core::time::Duration;
///
/// let config = HistogramConfig::builder()
///     .relative_error(0.01)
///     .lowest(Duration::from_micros(1))
///     .highest(Duration::from_secs(3600))
///     .build()?;
/// assert_eq!(config, HistogramConfig::default());
/// assert_eq!(config.bucket_count(), 1208);
/// # Ok::<(), brace::metrics::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramConfig {
    relative_error: f64,
    lowest: u64,
    highest: u64,
}

impl Default for HistogramConfig {
    fn default() -> Self {
        HistogramConfig {
            relative_error: 0.01,
            lowest: 1_000,
            highest: 3_600_000_000_000,
        }
    }
}

impl HistogramConfig {
    /// A builder starting from the defaults (1%, 1 µs ..= 1 h).
    pub fn builder() -> HistogramConfigBuilder {
        HistogramConfigBuilder {
            config: HistogramConfig::default(),
        }
    }

    /// The largest relative distance between a reported value and the
    /// recorded value it stands for (for values inside the range).
    pub fn relative_error(&self) -> f64 {
        self.relative_error
    }

    /// The smallest value recorded as itself.
    pub fn lowest(&self) -> Duration {
        Duration::from_nanos(self.lowest)
    }

    /// The largest value recorded as itself.
    pub fn highest(&self) -> Duration {
        Duration::from_nanos(self.highest)
    }

    /// How many buckets a histogram of this configuration has.
    pub fn bucket_count(&self) -> usize {
        Layout::new(*self).len()
    }
}

/// Builds a [`HistogramConfig`]; see its docs.
///
/// ```
/// use brace::metrics::HistogramConfig;
/// use core::time::Duration;
///
/// let err = HistogramConfig::builder()
///     .lowest(Duration::from_secs(2))
///     .highest(Duration::from_secs(1))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.field(), "highest");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HistogramConfigBuilder {
    config: HistogramConfig,
}

impl HistogramConfigBuilder {
    /// Relative error of every reported value, between 0.001 and 0.1
    /// (default 0.01).
    pub fn relative_error(mut self, relative_error: f64) -> Self {
        self.config.relative_error = relative_error;
        self
    }

    /// Smallest value kept at full precision (default 1 µs); at least
    /// `1 / relative_error` nanoseconds.
    pub fn lowest(mut self, lowest: Duration) -> Self {
        self.config.lowest = saturating_nanos(lowest);
        self
    }

    /// Largest value kept at full precision (default 1 h); at most 2^62 ns
    /// (about 146 years).
    pub fn highest(mut self, highest: Duration) -> Self {
        self.config.highest = saturating_nanos(highest);
        self
    }

    /// Validates the fields.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `relative_error` (not finite or outside
    /// `0.001 ..= 0.1`), `lowest` (below `1 / relative_error` ns, too small
    /// to round reports to whole nanoseconds within the error) or `highest`
    /// (not above `lowest`, or above 2^62 ns).
    pub fn build(self) -> Result<HistogramConfig, ConfigError> {
        let c = self.config;
        if !(MIN_RELATIVE_ERROR..=MAX_RELATIVE_ERROR).contains(&c.relative_error) {
            return Err(ConfigError::new(
                "relative_error",
                "must be between 0.001 and 0.1",
            ));
        }
        if (c.lowest as f64) * c.relative_error < 1.0 {
            return Err(ConfigError::new(
                "lowest",
                "must be at least 1 / relative_error nanoseconds",
            ));
        }
        if c.highest <= c.lowest {
            return Err(ConfigError::new("highest", "must be above `lowest`"));
        }
        if c.highest > 1 << 62 {
            return Err(ConfigError::new(
                "highest",
                "must be at most 2^62 nanoseconds",
            ));
        }
        Ok(c)
    }
}

fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The bucket layout of one configuration (immutable, shared by `Arc`).
#[derive(Debug)]
pub(crate) struct Layout {
    config: HistogramConfig,
    fine_bits: u32,
    fine_mask: u64,
    per_octave: u32,
    min_octave: u32,
    offset: u32,
    len: usize,
    /// fine bin -> sub-bucket within the octave.
    sub_of_fine: Box<[u16]>,
    /// sub-bucket -> its first fine bin; one extra entry `2^fine_bits`.
    fine_start: Box<[u16]>,
}

impl Layout {
    pub(crate) fn new(config: HistogramConfig) -> Self {
        // Fine bins must be narrow enough that one of them alone is within
        // the error: width 2^-m of the mantissa, reported error <= 2^-m / 2.
        let mut fine_bits = 1;
        while f64::from(1u32 << fine_bits) < 4.0 / config.relative_error {
            fine_bits += 1;
        }
        let fine_count = 1u32 << fine_bits;
        let target = config.relative_error - 0.5 / config.lowest as f64;
        let mut fine_start: Vec<u16> = Vec::with_capacity(64);
        let mut sub_of_fine: Vec<u16> = Vec::with_capacity(fine_count as usize);
        let mut start = 0u32;
        fine_start.push(0);
        for fine in 0..fine_count {
            // Would the bucket [start, fine + 1) still be within target?
            let lo = 1.0 + f64::from(start) / f64::from(fine_count);
            let hi = 1.0 + f64::from(fine + 1) / f64::from(fine_count);
            if (hi - lo) / (hi + lo) > target {
                start = fine;
                fine_start.push(fine as u16);
            }
            sub_of_fine.push((fine_start.len() - 1) as u16);
        }
        let per_octave = fine_start.len() as u32;
        fine_start.push(fine_count as u16);
        let mut layout = Layout {
            config,
            fine_bits,
            fine_mask: u64::from(fine_count - 1),
            per_octave,
            min_octave: 63 - config.lowest.leading_zeros(),
            offset: 0,
            len: 0,
            sub_of_fine: sub_of_fine.into_boxed_slice(),
            fine_start: fine_start.into_boxed_slice(),
        };
        layout.offset = layout.raw_index(config.lowest);
        layout.len = (layout.raw_index(config.highest) - layout.offset) as usize + 1;
        layout
    }

    pub(crate) fn config(&self) -> &HistogramConfig {
        &self.config
    }

    /// Number of buckets.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes owned by the layout's tables.
    pub(crate) fn table_bytes(&self) -> usize {
        (self.sub_of_fine.len() + self.fine_start.len()) * core::mem::size_of::<u16>()
    }

    #[inline]
    fn raw_index(&self, v: u64) -> u32 {
        let lz = v.leading_zeros();
        let octave = 63 - lz;
        let fine = ((v << lz) >> (63 - self.fine_bits)) & self.fine_mask;
        (octave - self.min_octave) * self.per_octave + u32::from(self.sub_of_fine[fine as usize])
    }

    /// The bucket holding `v` (clamped to the configured range).
    #[inline]
    pub(crate) fn index(&self, v: u64) -> usize {
        // max/min rather than clamp: no lowest <= highest assertion here.
        let v = v.max(self.config.lowest).min(self.config.highest);
        (self.raw_index(v) - self.offset) as usize
    }

    /// The value bucket `index` reports: within the relative error of
    /// every in-range value the bucket counts.
    pub(crate) fn representative(&self, index: usize) -> f64 {
        let raw = index as u32 + self.offset;
        let octave = self.min_octave + raw / self.per_octave;
        let sub = (raw % self.per_octave) as usize;
        let scale = (1u64 << octave) as f64 / f64::from(1u32 << self.fine_bits);
        let base = (1u64 << octave) as f64;
        let lo = base + f64::from(self.fine_start[sub]) * scale;
        let hi = base + f64::from(self.fine_start[sub + 1]) * scale;
        let lo = lo.max(self.config.lowest as f64);
        let hi = hi.min(self.config.highest as f64 + 1.0);
        2.0 * lo * hi / (lo + hi)
    }

    /// Whether two layouts bucket every value the same way.
    pub(crate) fn same_as(&self, other: &Layout) -> bool {
        self.config == other.config
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn default_layout_size() {
        let l = Layout::new(HistogramConfig::default());
        assert_eq!(l.per_octave, 38);
        assert_eq!(l.len(), 1208);
        assert_eq!(l.index(1_000), 0);
        assert_eq!(l.index(0), 0);
        assert_eq!(l.index(u64::MAX), l.len() - 1);
    }

    #[test]
    fn every_value_is_within_the_relative_error_of_its_bucket() {
        for alpha in [0.001, 0.01, 0.02, 0.05, 0.1] {
            let config = HistogramConfig::builder()
                .relative_error(alpha)
                .lowest(Duration::from_nanos(1_000))
                .highest(Duration::from_millis(50))
                .build()
                .unwrap();
            let l = Layout::new(config);
            let mut v = 1_000u64;
            let mut last = 0;
            while v <= 50_000_000 {
                let i = l.index(v);
                assert!(i >= last, "index not monotone at {v}");
                last = i;
                let rep = l.representative(i).round();
                let err = (rep - v as f64).abs() / v as f64;
                assert!(err <= alpha, "alpha {alpha}: v {v} -> {rep} ({err})");
                v += 1 + v / 3_000;
            }
        }
    }

    #[test]
    fn builder_refuses_bad_fields() {
        let b = HistogramConfig::builder;
        assert_eq!(
            b().relative_error(f64::NAN).build().unwrap_err().field(),
            "relative_error"
        );
        assert_eq!(
            b().relative_error(0.0).build().unwrap_err().field(),
            "relative_error"
        );
        assert_eq!(
            b().lowest(Duration::from_nanos(10))
                .build()
                .unwrap_err()
                .field(),
            "lowest"
        );
        assert_eq!(
            b().highest(Duration::from_nanos(1_000))
                .build()
                .unwrap_err()
                .field(),
            "highest"
        );
        assert_eq!(
            b().highest(Duration::MAX).build().unwrap_err().field(),
            "highest"
        );
    }
}
