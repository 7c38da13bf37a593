//! RED metrics (rate, errors, duration) over a sliding window.

use core::fmt;
use core::time::Duration;

use super::outcome::Outcome;
use super::snapshot::HistogramSnapshot;
use super::window::{Window, WindowSnapshot};
use super::window_config::WindowConfig;
use crate::time::{Clock, Nanos};

/// Records requests and reports rate, error rate and latency quantiles over
/// the last minute (or the configured [`WindowConfig`] span).
///
/// Recording reads the clock once and writes a [`Window`]: no lock, no
/// allocation. When the caller already read the clock to compute the
/// latency, [`Red::record_at`] reuses that reading and skips the second.
///
/// # Thread safety
///
/// `Send + Sync`. Share one recorder per endpoint between threads with an
/// `Arc`.
///
/// # Clone
///
/// Not `Clone`: the counters are the identity. Wrap it in an `Arc`.
///
/// ```
/// use brace::metrics::{Outcome, Red, WindowConfig};
/// use brace::time::ManualClock;
/// use core::time::Duration;
///
/// let clock = ManualClock::new();
/// let red = Red::new(WindowConfig::default(), clock.clone());
/// for i in 0..100u64 {
///     clock.advance(Duration::from_millis(100));
///     let outcome = if i % 10 == 0 { Outcome::Error } else { Outcome::Success };
///     red.record(Duration::from_millis(1 + i % 5), outcome);
/// }
/// let s = red.snapshot();
/// assert_eq!(s.count(), 100);
/// assert!((s.rate() - 10.0).abs() < 0.5); // 100 requests in 10 s
/// assert!((s.error_rate() - 0.1).abs() < 1e-9);
/// assert_eq!(s.max(), Some(Duration::from_millis(5)));
/// ```
pub struct Red<C> {
    window: Window,
    clock: C,
}

impl<C: Clock> Red<C> {
    /// A recorder whose window starts now.
    pub fn new(config: WindowConfig, clock: C) -> Self {
        let window = Window::new(config, clock.now());
        Red { window, clock }
    }

    /// Records one finished request.
    #[inline]
    pub fn record(&self, latency: Duration, outcome: Outcome) {
        self.window.record_at(self.clock.recent(), latency, outcome);
    }

    /// Records one request that finished at `now` (a reading of this
    /// recorder's clock).
    #[inline]
    pub fn record_at(&self, now: Nanos, latency: Duration, outcome: Outcome) {
        self.window.record_at(now, latency, outcome);
    }

    /// [`Red::record_at`] with the latency in nanoseconds, e.g. the
    /// difference of two readings of this recorder's clock:
    ///
    /// ```
    /// use brace::metrics::{Outcome, Red, WindowConfig};
    /// use brace::time::{Clock, ManualClock};
    /// use core::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let red = Red::new(WindowConfig::default(), clock.clone());
    /// let start = clock.now();
    /// clock.advance(Duration::from_millis(7)); // the request runs
    /// let end = clock.now();
    /// red.record_nanos_at(end, end.saturating_sub(start).as_u64(), Outcome::Success);
    /// assert_eq!(red.snapshot().max(), Some(Duration::from_millis(7)));
    /// ```
    #[inline]
    pub fn record_nanos_at(&self, now: Nanos, latency_nanos: u64, outcome: Outcome) {
        self.window.record_nanos_at(now, latency_nanos, outcome);
    }

    /// Rate, errors and latency over the window ending now.
    pub fn snapshot(&self) -> RedSnapshot {
        RedSnapshot::from_window(self.window.snapshot_at(self.clock.now()))
    }

    /// The clock this recorder reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The underlying window (for its memory figure and dropped count).
    pub fn window(&self) -> &Window {
        &self.window
    }
}

impl<C> fmt::Debug for Red<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Red")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// What a [`Red`] recorder saw over its window.
///
/// ```
/// use brace::metrics::{Outcome, Red, WindowConfig};
/// use brace::time::ManualClock;
/// use core::time::Duration;
///
/// let clock = ManualClock::new();
/// let red = Red::new(WindowConfig::default(), clock.clone());
/// let s = red.snapshot();
/// assert_eq!((s.count(), s.rate(), s.error_rate()), (0, 0.0, 0.0));
/// assert_eq!(s.p99(), None);
/// ```
#[derive(Debug, Clone)]
pub struct RedSnapshot {
    window: WindowSnapshot,
}

impl RedSnapshot {
    fn from_window(window: WindowSnapshot) -> Self {
        RedSnapshot { window }
    }

    /// Requests in the window.
    pub fn count(&self) -> u64 {
        self.window.requests()
    }

    /// Failed requests in the window.
    pub fn errors(&self) -> u64 {
        self.window.errors()
    }

    /// Requests per second over the time the window covers (0 when it
    /// covers no time yet).
    pub fn rate(&self) -> f64 {
        let secs = self.window.covered().as_secs_f64();
        if secs > 0.0 {
            self.count() as f64 / secs
        } else {
            0.0
        }
    }

    /// Fraction of requests that failed, 0 ..= 1 (0 when there were none).
    pub fn error_rate(&self) -> f64 {
        if self.count() == 0 {
            0.0
        } else {
            self.errors() as f64 / self.count() as f64
        }
    }

    /// Time the window covers.
    pub fn covered(&self) -> Duration {
        self.window.covered()
    }

    /// Latency at quantile `q`; see [`HistogramSnapshot::quantile`].
    ///
    /// # Panics
    ///
    /// Panics if `q` is not within `0.0 ..= 1.0`.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        self.window.latency().quantile(q)
    }

    /// Median latency.
    pub fn p50(&self) -> Option<Duration> {
        self.quantile(0.5)
    }

    /// 95th percentile latency.
    pub fn p95(&self) -> Option<Duration> {
        self.quantile(0.95)
    }

    /// 99th percentile latency.
    pub fn p99(&self) -> Option<Duration> {
        self.quantile(0.99)
    }

    /// 99.9th percentile latency.
    pub fn p999(&self) -> Option<Duration> {
        self.quantile(0.999)
    }

    /// Largest latency (exact).
    pub fn max(&self) -> Option<Duration> {
        self.window.latency().max()
    }

    /// The whole latency histogram of the window.
    pub fn latency(&self) -> &HistogramSnapshot {
        self.window.latency()
    }
}
