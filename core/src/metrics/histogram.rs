//! A lock-free log-linear histogram with atomic counters.

use alloc::boxed::Box;
use core::fmt;
use core::time::Duration;

use super::error::LayoutMismatch;
use super::layout::{HistogramConfig, Layout};
use super::snapshot::HistogramSnapshot;
use crate::sync::{Arc, AtomicU64, Ordering};

/// A histogram of durations that any number of threads record into at once.
///
/// Recording is one `fetch_add` on the value's bucket plus a load of the
/// exact minimum and maximum (updated only when beaten): no lock, no
/// allocation, no float. Buckets are near-logarithmic (see
/// [`HistogramConfig`]), so quantiles are within the configured relative
/// error (1% by default) over the configured range (1 µs ..= 1 h).
///
/// This histogram accumulates forever (counters are `u64`); for "the last
/// minute" use a [`Window`](super::Window) or a [`Red`](super::Red)
/// recorder, which also stripe their counters across threads.
///
/// # Memory
///
/// `8 × bucket_count` bytes of counters (9.4 KiB at the defaults: 1208 buckets) plus the
/// layout's tables, all allocated in [`Histogram::new`].
///
/// # Thread safety
///
/// `Send + Sync`; share it by reference or `Arc`. A snapshot taken while
/// other threads record sees each of their samples either fully or not at
/// all, bucket by bucket.
///
/// ```
/// use brace::metrics::{Histogram, HistogramConfig};
/// use core::time::Duration;
///
/// let h = Histogram::new(HistogramConfig::default());
/// h.record(Duration::from_micros(250));
/// h.record(Duration::from_millis(3));
/// let s = h.snapshot();
/// assert_eq!(s.count(), 2);
/// assert_eq!(s.min(), Some(Duration::from_micros(250)));
/// ```
pub struct Histogram {
    layout: Arc<Layout>,
    counts: Box<[AtomicU64]>,
    min: AtomicU64,
    max: AtomicU64,
}

impl Histogram {
    /// An empty histogram; allocates its counters now and never again.
    pub fn new(config: HistogramConfig) -> Self {
        let layout = Arc::new(Layout::new(config));
        let counts = (0..layout.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            layout,
            counts,
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
        }
    }

    /// The configuration this histogram was built with.
    pub fn config(&self) -> &HistogramConfig {
        self.layout.config()
    }

    /// Records one sample.
    #[inline]
    pub fn record(&self, value: Duration) {
        self.record_nanos(u64::try_from(value.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Records one sample given in nanoseconds.
    #[inline]
    pub fn record_nanos(&self, nanos: u64) {
        self.counts[self.layout.index(nanos)].fetch_add(1, Ordering::Relaxed);
        if nanos > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(nanos, Ordering::Relaxed);
        }
        if nanos < self.min.load(Ordering::Relaxed) {
            self.min.fetch_min(nanos, Ordering::Relaxed);
        }
    }

    /// Adds every sample of `other` to this histogram.
    ///
    /// # Errors
    ///
    /// [`LayoutMismatch`] if `other` has a different configuration.
    pub fn merge(&self, other: &Histogram) -> Result<(), LayoutMismatch> {
        if !self.layout.same_as(&other.layout) {
            return Err(LayoutMismatch);
        }
        for (mine, theirs) in self.counts.iter().zip(other.counts.iter()) {
            let n = theirs.load(Ordering::Relaxed);
            if n > 0 {
                mine.fetch_add(n, Ordering::Relaxed);
            }
        }
        self.min
            .fetch_min(other.min.load(Ordering::Relaxed), Ordering::Relaxed);
        self.max
            .fetch_max(other.max.load(Ordering::Relaxed), Ordering::Relaxed);
        Ok(())
    }

    /// Copies the counts for reading (allocates one `u64` per bucket).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut s = HistogramSnapshot::empty(Arc::clone(&self.layout));
        s.add_copy(
            self.counts.iter().map(|c| c.load(Ordering::Relaxed)),
            self.min.load(Ordering::Relaxed),
            self.max.load(Ordering::Relaxed),
        );
        s
    }

    /// Bytes this histogram occupies, heap included.
    pub fn memory_bytes(&self) -> usize {
        core::mem::size_of::<Self>()
            + core::mem::size_of_val(&*self.counts)
            + core::mem::size_of::<Layout>()
            + self.layout.table_bytes()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("config", self.config())
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn records_count_and_extremes() {
        let h = Histogram::new(HistogramConfig::default());
        assert!(h.snapshot().is_empty());
        assert_eq!(h.snapshot().quantile(0.5), None);
        for us in [5u64, 7, 900, 12_000] {
            h.record(Duration::from_micros(us));
        }
        let s = h.snapshot();
        assert_eq!(s.count(), 4);
        assert_eq!(s.min(), Some(Duration::from_micros(5)));
        assert_eq!(s.max(), Some(Duration::from_micros(12_000)));
        assert_eq!(s.quantile(0.0), Some(Duration::from_micros(5)));
        assert_eq!(s.quantile(1.0), Some(Duration::from_micros(12_000)));
        let median = s.quantile(0.5).unwrap().as_nanos() as f64;
        assert!((median - 7_000.0).abs() <= 70.0, "median {median}");
    }

    #[test]
    fn out_of_range_values_are_clamped_but_extremes_stay_exact() {
        let h = Histogram::new(HistogramConfig::default());
        h.record(Duration::from_nanos(3));
        h.record(Duration::from_secs(10_000));
        let s = h.snapshot();
        assert_eq!(s.min(), Some(Duration::from_nanos(3)));
        assert_eq!(s.max(), Some(Duration::from_secs(10_000)));
        assert_eq!(s.count(), 2);
    }

    #[test]
    fn merge_adds_counts_and_refuses_other_layouts() {
        let a = Histogram::new(HistogramConfig::default());
        let b = Histogram::new(HistogramConfig::default());
        a.record(Duration::from_millis(1));
        b.record(Duration::from_millis(2));
        b.record(Duration::from_millis(3));
        a.merge(&b).unwrap();
        let s = a.snapshot();
        assert_eq!(s.count(), 3);
        assert_eq!(s.max(), Some(Duration::from_millis(3)));

        let mut sa = a.snapshot();
        sa.merge(&b.snapshot()).unwrap();
        assert_eq!(sa.count(), 5);

        let other = HistogramConfig::builder()
            .relative_error(0.02)
            .build()
            .unwrap();
        assert_eq!(a.merge(&Histogram::new(other)), Err(LayoutMismatch));
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn quantile_refuses_out_of_range_q() {
        let h = Histogram::new(HistogramConfig::default());
        h.record(Duration::from_millis(1));
        let _ = h.snapshot().quantile(1.5);
    }
}
