//! What an SLO promises and when its burn should raise an alert.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::metrics::error::ConfigError;
use crate::metrics::outcome::Outcome;
use crate::metrics::window_config::LONGEST_SPAN;

/// Which requests count as good.
///
/// ```
/// use brace::metrics::{GoodEvent, Outcome};
/// use core::time::Duration;
///
/// let rule = GoodEvent::SuccessWithin(Duration::from_millis(300));
/// assert!(rule.is_good(Duration::from_millis(20), Outcome::Success));
/// assert!(!rule.is_good(Duration::from_millis(20), Outcome::Error));
/// assert!(!rule.is_good(Duration::from_secs(1), Outcome::Success));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoodEvent {
    /// Availability: a request is good when it succeeded.
    Success,
    /// Latency: a request is good when it finished within the threshold,
    /// whatever its outcome.
    Within(Duration),
    /// Both: succeeded and finished within the threshold.
    SuccessWithin(Duration),
}

impl GoodEvent {
    /// Whether a request with this latency and outcome is good.
    #[inline]
    pub fn is_good(self, latency: Duration, outcome: Outcome) -> bool {
        match self {
            GoodEvent::Success => outcome.is_success(),
            GoodEvent::Within(limit) => latency <= limit,
            GoodEvent::SuccessWithin(limit) => outcome.is_success() && latency <= limit,
        }
    }
}

/// How loud an SLO's burn is. Ordered: `Ok < Warning < Critical`.
///
/// ```
/// use brace::metrics::AlertLevel;
///
/// assert!(AlertLevel::Critical > AlertLevel::Warning);
/// assert_eq!(AlertLevel::default(), AlertLevel::Ok);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum AlertLevel {
    /// The budget is not burning fast enough to matter.
    #[default]
    Ok,
    /// Burning fast enough to spend the budget early: look soon.
    Warning,
    /// Burning fast enough to spend the budget within days: act now.
    Critical,
}

/// A multi-window burn-rate alert (Google SRE workbook, chapter 5): it fires
/// when the error budget burns at least `burn_rate` times the sustainable
/// rate over **both** the `long` window (it is significant) and the `short`
/// window (it is still happening).
///
/// ```
/// use brace::metrics::{AlertLevel, BurnAlert};
/// use core::time::Duration;
///
/// let page = BurnAlert::new(
///     Duration::from_secs(3600),
///     Duration::from_secs(300),
///     14.4,
///     AlertLevel::Critical,
/// );
/// assert_eq!(page.burn_rate(), 14.4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnAlert {
    long: Duration,
    short: Duration,
    burn_rate: f64,
    level: AlertLevel,
}

impl BurnAlert {
    /// An alert at `level` when both windows burn at `burn_rate` or faster
    /// (validated by [`SloConfigBuilder::build`]).
    pub fn new(long: Duration, short: Duration, burn_rate: f64, level: AlertLevel) -> Self {
        BurnAlert {
            long,
            short,
            burn_rate,
            level,
        }
    }

    /// The long window.
    pub fn long(&self) -> Duration {
        self.long
    }

    /// The short window.
    pub fn short(&self) -> Duration {
        self.short
    }

    /// The burn rate both windows must reach.
    pub fn burn_rate(&self) -> f64 {
        self.burn_rate
    }

    /// The level raised when it fires.
    pub fn level(&self) -> AlertLevel {
        self.level
    }
}

/// A service level objective and its alerts.
///
/// Defaults: **99.9% of requests succeed over 30 days**, counted at 1-minute
/// resolution, with the SRE workbook's two fast-burn alerts: 14.4x over 1 h
/// and 5 min → [`AlertLevel::Critical`] (2% of the monthly budget in an
/// hour), 6x over 6 h and 30 min → [`AlertLevel::Warning`] (5% in six hours).
///
/// ```
/// use brace::metrics::{GoodEvent, SloConfig};
/// use core::time::Duration;
///
/// let latency_slo = SloConfig::builder()
///     .target(0.99)
///     .good(GoodEvent::Within(Duration::from_millis(300)))
///     .build()?;
/// assert_eq!(latency_slo.target(), 0.99);
/// assert_eq!(latency_slo.alerts().len(), 2);
/// # Ok::<(), brace::metrics::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SloConfig {
    pub(super) target: f64,
    pub(super) good: GoodEvent,
    pub(super) period: Duration,
    pub(super) resolution: Duration,
    pub(super) alerts: Vec<BurnAlert>,
    pub(super) stripes: u32,
}

impl Default for SloConfig {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(60 * m);
        SloConfig {
            target: 0.999,
            good: GoodEvent::Success,
            period: Duration::from_secs(30 * 24 * 3600),
            resolution: min(1),
            alerts: vec![
                BurnAlert::new(min(60), min(5), 14.4, AlertLevel::Critical),
                BurnAlert::new(min(360), min(30), 6.0, AlertLevel::Warning),
            ],
            stripes: 2,
        }
    }
}

impl SloConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> SloConfigBuilder {
        SloConfigBuilder {
            config: SloConfig::default(),
        }
    }

    /// Fraction of requests that must be good, e.g. 0.999.
    pub fn target(&self) -> f64 {
        self.target
    }

    /// The good-event rule.
    pub fn good(&self) -> GoodEvent {
        self.good
    }

    /// The period the error budget is counted over.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The granularity of the counts.
    pub fn resolution(&self) -> Duration {
        self.resolution
    }

    /// The burn-rate alerts.
    pub fn alerts(&self) -> &[BurnAlert] {
        &self.alerts
    }

    /// Counter stripes per time slot.
    pub fn stripes(&self) -> u32 {
        self.stripes
    }
}

/// Builds an [`SloConfig`]; see its docs.
///
/// ```
/// use brace::metrics::SloConfig;
///
/// let err = SloConfig::builder().target(1.0).build().unwrap_err();
/// assert_eq!(err.field(), "target");
/// ```
#[derive(Debug, Clone)]
pub struct SloConfigBuilder {
    config: SloConfig,
}

impl SloConfigBuilder {
    /// Fraction of good requests promised, strictly between 0 and 1
    /// (default 0.999).
    pub fn target(mut self, target: f64) -> Self {
        self.config.target = target;
        self
    }

    /// Which requests are good (default [`GoodEvent::Success`]).
    pub fn good(mut self, good: GoodEvent) -> Self {
        self.config.good = good;
        self
    }

    /// The budget period (default 30 days).
    pub fn period(mut self, period: Duration) -> Self {
        self.config.period = period;
        self
    }

    /// The granularity of counts, at least 1 ms (default 1 minute). Alert
    /// windows are rounded up to whole multiples of it.
    pub fn resolution(mut self, resolution: Duration) -> Self {
        self.config.resolution = resolution;
        self
    }

    /// Replaces the alerts (default: 14.4x over 1 h + 5 min → Critical,
    /// 6x over 6 h + 30 min → Warning).
    pub fn alerts(mut self, alerts: impl IntoIterator<Item = BurnAlert>) -> Self {
        self.config.alerts = alerts.into_iter().collect();
        self
    }

    /// Counter stripes per time slot, a power of two up to 64 (default 2).
    pub fn stripes(mut self, stripes: u32) -> Self {
        self.config.stripes = stripes;
        self
    }

    /// Validates the fields.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `target` (not strictly between 0 and 1),
    /// `resolution` (below 1 ms), `period` (shorter than the resolution,
    /// longer than 10 million resolutions or than 100 years), `alerts` (a
    /// window shorter than the resolution, a short window longer than its
    /// long one, a long window longer than the period (whose events are
    /// all the tracker keeps), above 100 000 resolutions or 100 years, or
    /// a burn rate that is not a positive number) or `stripes` (not a power
    /// of two up to 64). (100 years keeps every span a `u64` of
    /// nanoseconds.)
    pub fn build(self) -> Result<SloConfig, ConfigError> {
        let c = self.config;
        if !(c.target > 0.0 && c.target < 1.0) {
            return Err(ConfigError::new(
                "target",
                "must be strictly between 0 and 1",
            ));
        }
        if c.resolution < Duration::from_millis(1) {
            return Err(ConfigError::new("resolution", "must be at least 1 ms"));
        }
        if c.period < c.resolution || c.period / 10_000_000 > c.resolution {
            return Err(ConfigError::new(
                "period",
                "must be between 1 and 10 million resolutions",
            ));
        }
        if c.period > LONGEST_SPAN {
            return Err(ConfigError::new("period", "must be at most 100 years"));
        }
        for a in &c.alerts {
            if a.short < c.resolution || a.short > a.long {
                return Err(ConfigError::new(
                    "alerts",
                    "need resolution <= short window <= long window",
                ));
            }
            if a.long > c.period {
                // The budget keeps only the period's events: a longer
                // window would read as the period.
                return Err(ConfigError::new(
                    "alerts",
                    "long window must be at most the period",
                ));
            }
            if a.long > LONGEST_SPAN {
                return Err(ConfigError::new(
                    "alerts",
                    "long window must be at most 100 years",
                ));
            }
            if a.long / 100_000 > c.resolution {
                return Err(ConfigError::new(
                    "alerts",
                    "long window must be at most 100 000 resolutions",
                ));
            }
            if !(a.burn_rate.is_finite() && a.burn_rate > 0.0) {
                return Err(ConfigError::new(
                    "alerts",
                    "burn rate must be a positive number",
                ));
            }
        }
        if !c.stripes.is_power_of_two() || c.stripes > 64 {
            return Err(ConfigError::new(
                "stripes",
                "must be a power of two up to 64",
            ));
        }
        Ok(c)
    }
}
