//! Counters a loader keeps about the batches it sends.
//!
//! These are plain atomic counters and power-of-two buckets of this module's
//! own; when brace's metrics module lands, the histogram can move onto it.

use crate::sync::{AtomicU64, Ordering};

/// Number of batch-size buckets: 1, 2, 3–4, 5–8, …, 513–1024, 1025 and more.
pub const SIZE_BUCKETS: usize = 12;

/// The live counters, updated with relaxed atomics (they order nothing).
#[derive(Debug)]
pub(crate) struct Counters {
    batches_sent: AtomicU64,
    keys_sent: AtomicU64,
    batches_restarted: AtomicU64,
    batches_cancelled: AtomicU64,
    batches_panicked: AtomicU64,
    sizes: [AtomicU64; SIZE_BUCKETS],
}

impl Counters {
    pub(crate) fn new() -> Self {
        Counters {
            batches_sent: AtomicU64::new(0),
            keys_sent: AtomicU64::new(0),
            batches_restarted: AtomicU64::new(0),
            batches_cancelled: AtomicU64::new(0),
            batches_panicked: AtomicU64::new(0),
            sizes: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// A call of the batch function with `keys` keys; `restart` when it
    /// re-sends a batch whose leader was dropped mid-call.
    pub(crate) fn record_sent(&self, keys: usize, restart: bool) {
        self.batches_sent.fetch_add(1, Ordering::Relaxed);
        self.keys_sent.fetch_add(keys as u64, Ordering::Relaxed);
        self.sizes[bucket_of(keys)].fetch_add(1, Ordering::Relaxed);
        if restart {
            self.batches_restarted.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn record_cancelled(&self) {
        self.batches_cancelled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_panicked(&self) {
        self.batches_panicked.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> LoaderStats {
        LoaderStats {
            batches_sent: self.batches_sent.load(Ordering::Relaxed),
            keys_sent: self.keys_sent.load(Ordering::Relaxed),
            batches_restarted: self.batches_restarted.load(Ordering::Relaxed),
            batches_cancelled: self.batches_cancelled.load(Ordering::Relaxed),
            batches_panicked: self.batches_panicked.load(Ordering::Relaxed),
            size_histogram: core::array::from_fn(|i| self.sizes[i].load(Ordering::Relaxed)),
        }
    }
}

/// The bucket of a batch of `keys` keys: 0 for 1 key, then ⌈log2(keys)⌉,
/// capped at the last bucket.
fn bucket_of(keys: usize) -> usize {
    if keys <= 1 {
        0
    } else {
        let ceil_log2 = (usize::BITS - (keys - 1).leading_zeros()) as usize;
        ceil_log2.min(SIZE_BUCKETS - 1)
    }
}

/// The inclusive range of batch sizes counted in bucket `i`
/// (`usize::MAX` as the upper end of the last one).
///
/// ```
/// use brace::loader::size_bucket_range;
/// assert_eq!(size_bucket_range(0), (1, 1));
/// assert_eq!(size_bucket_range(3), (5, 8));
/// assert_eq!(size_bucket_range(11), (1025, usize::MAX));
/// ```
pub fn size_bucket_range(i: usize) -> (usize, usize) {
    match i {
        0 => (1, 1),
        i if i >= SIZE_BUCKETS - 1 => ((1 << (SIZE_BUCKETS - 2)) + 1, usize::MAX),
        i => ((1 << (i - 1)) + 1, 1 << i),
    }
}

/// A snapshot of a loader's counters, from
/// [`BatchLoader::stats`](super::BatchLoader::stats).
///
/// ```
/// use brace::loader::LoaderStats;
///
/// let stats = LoaderStats::default();
/// assert_eq!(stats.batches_sent, 0);
/// assert_eq!(stats.mean_batch_size(), None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoaderStats {
    /// Calls made to the batch function (restarts included).
    pub batches_sent: u64,
    /// Keys sent over all those calls.
    pub keys_sent: u64,
    /// Calls re-sent because the caller driving the first one was dropped
    /// while it ran and other callers still waited.
    pub batches_restarted: u64,
    /// Batches dropped because every caller waiting on them was dropped.
    pub batches_cancelled: u64,
    /// Calls of the batch function that panicked.
    pub batches_panicked: u64,
    /// Batch sizes in power-of-two buckets; see [`size_bucket_range`].
    pub size_histogram: [u64; SIZE_BUCKETS],
}

impl LoaderStats {
    /// Mean keys per batch call, `None` before the first call.
    pub fn mean_batch_size(&self) -> Option<f64> {
        (self.batches_sent > 0).then(|| self.keys_sent as f64 / self.batches_sent as f64)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two() {
        let cases = [
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (8, 3),
            (9, 4),
            (1024, 10),
        ];
        for (keys, bucket) in cases {
            assert_eq!(bucket_of(keys), bucket, "{keys} keys");
            let (lo, hi) = size_bucket_range(bucket);
            assert!(lo <= keys && keys <= hi, "{keys} outside {lo}..={hi}");
        }
        assert_eq!(bucket_of(1025), SIZE_BUCKETS - 1);
        assert_eq!(bucket_of(usize::MAX), SIZE_BUCKETS - 1);
    }

    #[test]
    fn snapshot_adds_up() {
        let c = Counters::new();
        c.record_sent(3, false);
        c.record_sent(100, true);
        c.record_cancelled();
        let s = c.snapshot();
        assert_eq!(
            (s.batches_sent, s.keys_sent, s.batches_restarted),
            (2, 103, 1)
        );
        assert_eq!(s.batches_cancelled, 1);
        assert_eq!(s.size_histogram[2] + s.size_histogram[7], 2);
        assert_eq!(s.mean_batch_size(), Some(51.5));
    }
}
