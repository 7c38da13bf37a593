//! The shape of a sliding window: span, slots, stripes, precision.

use core::time::Duration;

use super::error::ConfigError;
use super::layout::HistogramConfig;

/// The longest span a window, an SLO period or an alert window may have:
/// every span stays a `u64` of nanoseconds (about 584 years) with room.
pub(super) const LONGEST_SPAN: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The shape of a [`Window`](super::Window): how long it spans, in how many slots, how many
/// stripes per slot, and the histogram precision.
///
/// Defaults: **60 s in 5 slots of 12 s, 2 stripes, 1% over 1 µs ..= 1 h**,
/// which takes about 60 KiB (see [`Window::memory_bytes`](super::Window::memory_bytes)). A snapshot
/// covers the current slot and the 4 before it: between 48 and 60 s of
/// history (a Prometheus summary ages out in 2-minute buckets by default).
///
/// Memory is about `(slots + 1) × stripes × (128 + 4 × buckets)` bytes (one
/// spare slot is cleared ahead of time) plus small headers: it is fixed when the window is built. Raise `stripes` (a power of
/// two) when many threads record into one window at once.
///
/// The counters are 32-bit: one stripe of one slot counts up to
/// 4,294,967,295 samples per histogram bucket, and as many errors; past
/// that a count wraps and the window loses 2^32 of them. With 12 s slots
/// that takes 358 million samples a second; a long slot at a high rate
/// (a day-long slot, 50,000 samples a second of one latency into one
/// stripe) reaches it, so give long windows more slots or stripes.
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
        if c.span > LONGEST_SPAN {
            return Err(ConfigError::new("span", "must be at most 100 years"));
        }
        if c.slot_len() < Duration::from_micros(1) {
            return Err(ConfigError::new("span", "must give slots of at least 1 µs"));
        }
        Ok(c)
    }
}
