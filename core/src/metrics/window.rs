//! A sliding time window of request counts, error counts and latency
//! histograms, in a fixed ring of slots.

use alloc::boxed::Box;
use core::fmt;
use core::time::Duration;

use super::layout::Layout;
use super::outcome::Outcome;
use super::ring::{Ring, SlotPayload};
use super::snapshot::HistogramSnapshot;
use super::stripe::thread_hint;
use super::window_config::WindowConfig;
use crate::sync::{Arc, AtomicU32, AtomicU64, CachePadded, Ordering};
use crate::time::Nanos;

/// Per-stripe header: errors and exact extremes (the request count is the
/// sum of the stripe's buckets).
struct StripeHead {
    errors: AtomicU32,
    min: AtomicU64,
    max: AtomicU64,
}

/// One slot: `stripes` headers and `stripes × stride` bucket counters, of
/// which the first `len` of each stripe are used (the rest pad to a cache
/// line and stay zero).
struct HistSlot {
    heads: Box<[CachePadded<StripeHead>]>,
    buckets: Box<[AtomicU32]>,
    stride: usize,
    len: usize,
}

impl SlotPayload for HistSlot {
    fn clear(&self) {
        for head in self.heads.iter() {
            head.errors.store(0, Ordering::Relaxed);
            head.min.store(u64::MAX, Ordering::Relaxed);
            head.max.store(0, Ordering::Relaxed);
        }
        for stripe in self.buckets.chunks(self.stride) {
            for b in &stripe[..self.len] {
                b.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// The counts of one window: requests, errors and the latency histogram.
///
/// ```
/// use brace::metrics::{Outcome, Window, WindowConfig};
/// use brace::time::Nanos;
/// use core::time::Duration;
///
/// let w = Window::new(WindowConfig::default(), Nanos::ZERO);
/// w.record_at(Nanos::new(1_000), Duration::from_millis(2), Outcome::Error);
/// let s = w.snapshot_at(Nanos::new(2_000));
/// assert_eq!((s.requests(), s.errors()), (1, 1));
/// ```
#[derive(Debug, Clone)]
pub struct WindowSnapshot {
    histogram: HistogramSnapshot,
    errors: u64,
    covered: Duration,
}

impl WindowSnapshot {
    /// Requests recorded in the window.
    pub fn requests(&self) -> u64 {
        self.histogram.count()
    }

    /// Requests recorded with [`Outcome::Error`].
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Latencies of the requests in the window.
    pub fn latency(&self) -> &HistogramSnapshot {
        &self.histogram
    }

    /// How much time the snapshot covers: the full slots in the window plus
    /// the elapsed part of the current one, never more than the window has
    /// existed.
    pub fn covered(&self) -> Duration {
        self.covered
    }
}

/// A sliding window over the last `span` of requests: counts, errors and a
/// latency histogram per slot, in a ring of slots reset by the first writer
/// that needs one (see the module `ring` protocol, summarised below).
///
/// * **Writers** ([`Window::record_at`]) never block and never allocate:
///   on the fast path one load of the ring head, one `fetch_add` on a
///   bucket of their stripe, and a load of the stripe's extremes.
/// * **Readers** ([`Window::snapshot_at`]) copy each slot seqlock-style
///   and discard a slot caught mid-reset, so a half-zeroed slot is never
///   reported. Readers allocate the snapshot.
/// * **Rotation**: the writer that moves the window into a new slot resets
///   the slot after it in advance; a writer that still finds its slot being
///   reset credits its sample to the newest live slot rather than wait.
///   Samples older than the window, or arriving mid-reset after the window
///   sat idle for a whole span, are counted in [`Window::dropped`].
///
/// # Memory
///
/// Fixed at construction: [`Window::memory_bytes`] (61 814 bytes, about 60 KiB, at defaults).
///
/// # Thread safety
///
/// `Send + Sync`; share it by reference or `Arc`.
///
/// ```
/// use brace::metrics::{Outcome, Window, WindowConfig};
/// use brace::time::Nanos;
/// use core::time::Duration;
///
/// let w = Window::new(WindowConfig::default(), Nanos::ZERO);
/// let t = Nanos::from_duration(Duration::from_secs(5));
/// w.record_at(t, Duration::from_millis(4), Outcome::Success);
/// assert_eq!(w.snapshot_at(t).requests(), 1);
/// // 70 s later the sample has left the 60 s window.
/// let later = Nanos::from_duration(Duration::from_secs(75));
/// assert_eq!(w.snapshot_at(later).requests(), 0);
/// assert!(w.memory_bytes() <= 64 * 1024);
/// ```
pub struct Window {
    config: WindowConfig,
    layout: Arc<Layout>,
    stride: usize,
    stripe_mask: usize,
    created: Nanos,
    ring: Ring<HistSlot>,
}

impl Window {
    /// An empty window whose history starts at `created` (the clock's
    /// reading now); all memory is allocated here.
    pub fn new(config: WindowConfig, created: Nanos) -> Self {
        let layout = Arc::new(Layout::new(*config.histogram()));
        // Round each stripe's buckets up to a whole cache line (16 × u32)
        // so two stripes never share a line.
        let stride = layout.len().div_ceil(16) * 16;
        let stripes = config.stripes() as usize;
        let slot_len = config.slot_len().as_nanos() as u64;
        let ring = Ring::new(slot_len, u64::from(config.slots()), created, || HistSlot {
            heads: (0..stripes)
                .map(|_| {
                    CachePadded::new(StripeHead {
                        errors: AtomicU32::new(0),
                        min: AtomicU64::new(u64::MAX),
                        max: AtomicU64::new(0),
                    })
                })
                .collect(),
            buckets: (0..stripes * stride).map(|_| AtomicU32::new(0)).collect(),
            stride,
            len: layout.len(),
        });
        Window {
            config,
            layout,
            stride,
            stripe_mask: stripes - 1,
            created,
            ring,
        }
    }

    /// The configuration this window was built with.
    pub fn config(&self) -> &WindowConfig {
        &self.config
    }

    /// Records one request that finished at `now`, took `latency` and ended
    /// with `outcome`.
    #[inline]
    pub fn record_at(&self, now: Nanos, latency: Duration, outcome: Outcome) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.record_nanos_at(now, nanos, outcome);
    }

    /// [`Window::record_at`] with the latency in nanoseconds (for callers
    /// that already hold it as an integer, e.g. a difference of two clock
    /// readings).
    #[inline]
    pub fn record_nanos_at(&self, now: Nanos, nanos: u64, outcome: Outcome) {
        let Some(slot) = self.ring.writable(now, |_, _| {}) else {
            return;
        };
        let stripe = thread_hint() & self.stripe_mask;
        slot.buckets[stripe * self.stride + self.layout.index(nanos)]
            .fetch_add(1, Ordering::Relaxed);
        let head = &slot.heads[stripe];
        if !outcome.is_success() {
            head.errors.fetch_add(1, Ordering::Relaxed);
        }
        if nanos > head.max.load(Ordering::Relaxed) {
            head.max.fetch_max(nanos, Ordering::Relaxed);
        }
        if nanos < head.min.load(Ordering::Relaxed) {
            head.min.fetch_min(nanos, Ordering::Relaxed);
        }
    }

    /// The counts of the window ending at `now`: the slot `now` falls in and
    /// the `slots - 1` before it.
    pub fn snapshot_at(&self, now: Nanos) -> WindowSnapshot {
        let mut histogram = HistogramSnapshot::empty(Arc::clone(&self.layout));
        let mut errors = 0u64;
        let len = self.layout.len();
        self.ring.read(
            self.ring.live_ticks(now),
            |slot| {
                let mut counts = alloc::vec![0u64; len];
                let (mut errs, mut min, mut max) = (0u64, u64::MAX, 0u64);
                for (stripe, head) in slot.heads.iter().enumerate() {
                    errs += u64::from(head.errors.load(Ordering::Relaxed));
                    min = min.min(head.min.load(Ordering::Relaxed));
                    max = max.max(head.max.load(Ordering::Relaxed));
                    let base = stripe * self.stride;
                    for (i, c) in counts.iter_mut().enumerate() {
                        *c += u64::from(slot.buckets[base + i].load(Ordering::Relaxed));
                    }
                }
                (counts, errs, min, max)
            },
            |_, (counts, errs, min, max)| {
                histogram.add_copy(counts, min, max);
                errors += errs;
            },
        );
        let errors = errors.min(histogram.count());
        WindowSnapshot {
            histogram,
            errors,
            covered: self.covered(now),
        }
    }

    fn covered(&self, now: Nanos) -> Duration {
        let slot_len = self.ring.slot_len();
        let into_slot = now.as_u64() % slot_len;
        let full = (u64::from(self.config.slots()) - 1) * slot_len;
        let age = now.saturating_sub(self.created).as_u64();
        Duration::from_nanos((full + into_slot).min(age))
    }

    /// Samples not recorded: older than the window when they arrived, or
    /// arriving while their slot was being reset after the window had been
    /// idle for its whole span.
    pub fn dropped(&self) -> u64 {
        self.ring.dropped()
    }

    /// Bytes this window occupies, heap included; fixed at construction.
    pub fn memory_bytes(&self) -> usize {
        let per_slot: usize = self
            .ring
            .payloads()
            .map(|p| {
                core::mem::size_of::<(AtomicU64, HistSlot)>()
                    + core::mem::size_of_val(&*p.heads)
                    + core::mem::size_of_val(&*p.buckets)
            })
            .sum();
        core::mem::size_of::<Self>()
            + core::mem::size_of::<Layout>()
            + self.layout.table_bytes()
            + per_slot
    }
}

impl fmt::Debug for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Window")
            .field("config", &self.config)
            .field("ring", &self.ring)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}
