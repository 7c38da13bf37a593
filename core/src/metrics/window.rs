//! A sliding time window of request counts, error counts and latency
//! histograms, in a fixed ring of slots.

use alloc::boxed::Box;
use core::fmt;
use core::time::Duration;

use super::error::ConfigError;
use super::layout::{HistogramConfig, Layout};
use super::ring::{Ring, SlotPayload};
use super::snapshot::HistogramSnapshot;
use super::stripe::thread_hint;
use crate::sync::{Arc, AtomicU32, AtomicU64, CachePadded, Ordering};
use crate::time::Nanos;

/// The shape of a [`Window`]: how long it spans, in how many slots, how many
/// stripes per slot, and the histogram precision.
///
/// Defaults: **60 s in 5 slots of 12 s, 2 stripes, 1% over 1 µs ..= 1 h**,
/// which takes about 58 KiB (see [`Window::memory_bytes`]). A snapshot
/// covers the current slot and the 4 before it: between 48 and 60 s of
/// history (a Prometheus summary ages out in 2-minute buckets by default).
///
/// Memory is about `(slots + 1) × stripes × (128 + 4 × buckets)` bytes (one
/// spare slot is cleared ahead of time) plus small headers: it is fixed when the window is built. Raise `stripes` (a power of
/// two) when many threads record into one window at once.
///
/// ```
/// use brace::metrics::WindowConfig;
/// use core::time::Duration;
///
/// let config = WindowConfig::builder()
///     .span(Duration::from_secs(60))
///     .slots(12)
///     .stripes(1)
///     .build()?;
/// assert_eq!(config.slot_len(), Duration::from_secs(5));
/// # Ok::<(), brace::metrics::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowConfig {
    span: Duration,
    slots: u32,
    stripes: u32,
    histogram: HistogramConfig,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            span: Duration::from_secs(60),
            slots: 5,
            stripes: 2,
            histogram: HistogramConfig::default(),
        }
    }
}

impl WindowConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> WindowConfigBuilder {
        WindowConfigBuilder {
            config: WindowConfig::default(),
        }
    }

    /// How much history a snapshot covers (at most).
    pub fn span(&self) -> Duration {
        self.span
    }

    /// Number of slots the span is cut into.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// Length of one slot: the granularity at which samples leave the window.
    pub fn slot_len(&self) -> Duration {
        self.span / self.slots
    }

    /// Counter stripes per slot.
    pub fn stripes(&self) -> u32 {
        self.stripes
    }

    /// The histogram precision.
    pub fn histogram(&self) -> &HistogramConfig {
        &self.histogram
    }
}

/// Builds a [`WindowConfig`]; see its docs.
///
/// ```
/// use brace::metrics::WindowConfig;
///
/// assert_eq!(WindowConfig::builder().stripes(3).build().unwrap_err().field(), "stripes");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WindowConfigBuilder {
    config: WindowConfig,
}

impl WindowConfigBuilder {
    /// The history a snapshot covers (default 60 s).
    pub fn span(mut self, span: Duration) -> Self {
        self.config.span = span;
        self
    }

    /// Slots the span is cut into, 1 ..= 1024 (default 5).
    pub fn slots(mut self, slots: u32) -> Self {
        self.config.slots = slots;
        self
    }

    /// Counter stripes per slot, a power of two up to 64 (default 2).
    pub fn stripes(mut self, stripes: u32) -> Self {
        self.config.stripes = stripes;
        self
    }

    /// Histogram precision and range (default [`HistogramConfig::default`]).
    pub fn histogram(mut self, histogram: HistogramConfig) -> Self {
        self.config.histogram = histogram;
        self
    }

    /// Validates the fields.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `slots` (0 or above 1024), `stripes` (not a
    /// power of two, or above 64) or `span` (slots shorter than 1 µs, or
    /// a span above 100 years).
    pub fn build(self) -> Result<WindowConfig, ConfigError> {
        let c = self.config;
        if c.slots == 0 || c.slots > 1024 {
            return Err(ConfigError::new("slots", "must be between 1 and 1024"));
        }
        if !c.stripes.is_power_of_two() || c.stripes > 64 {
            return Err(ConfigError::new(
                "stripes",
                "must be a power of two up to 64",
            ));
        }
        if c.span > Duration::from_secs(100 * 365 * 24 * 3600) {
            return Err(ConfigError::new("span", "must be at most 100 years"));
        }
        if c.slot_len() < Duration::from_micros(1) {
            return Err(ConfigError::new("span", "must give slots of at least 1 µs"));
        }
        Ok(c)
    }
}

/// Whether a recorded request succeeded, for the error count.
///
/// ```
/// use brace::metrics::Outcome;
///
/// let r: Result<u8, &str> = Err("timeout");
/// assert_eq!(Outcome::of(&r), Outcome::Error);
/// assert!(Outcome::Success.is_success());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The request succeeded.
    Success,
    /// The request failed.
    Error,
}

impl Outcome {
    /// `Success` for `Ok`, `Error` for `Err`.
    pub fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Error
        }
    }

    /// Whether this is `Success`.
    pub fn is_success(self) -> bool {
        self == Outcome::Success
    }
}

/// Per-stripe header: errors and exact extremes (the request count is the
/// sum of the stripe's buckets).
struct StripeHead {
    errors: AtomicU32,
    min: AtomicU64,
    max: AtomicU64,
}

/// One slot: `stripes` headers and `stripes × stride` bucket counters.
struct HistSlot {
    heads: Box<[CachePadded<StripeHead>]>,
    buckets: Box<[AtomicU32]>,
}

impl SlotPayload for HistSlot {
    fn clear(&self) {
        for head in self.heads.iter() {
            head.errors.store(0, Ordering::Relaxed);
            head.min.store(u64::MAX, Ordering::Relaxed);
            head.max.store(0, Ordering::Relaxed);
        }
        for b in self.buckets.iter() {
            b.store(0, Ordering::Relaxed);
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
/// Fixed at construction: [`Window::memory_bytes`] (58 KiB at defaults).
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
        let layout = Arc::new(Layout::new(config.histogram));
        // Round each stripe's buckets up to a whole cache line (16 × u32)
        // so two stripes never share a line.
        let stride = layout.len().div_ceil(16) * 16;
        let stripes = config.stripes as usize;
        let slot_len = (config.span / config.slots).as_nanos() as u64;
        let ring = Ring::new(slot_len, u64::from(config.slots), || HistSlot {
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
        let tick = self.ring.tick(now);
        let Some(slot) = self.ring.writable(tick, |_, _| {}) else {
            return;
        };
        let stripe = thread_hint() & self.stripe_mask;
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
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
                for (i, c) in counts.into_iter().enumerate() {
                    if c > 0 {
                        histogram.add_bucket(i, c);
                    }
                }
                errors += errs;
                histogram.add_extremes(min, max);
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
        let full = (u64::from(self.config.slots) - 1) * slot_len;
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
