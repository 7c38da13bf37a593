//! Breaker configuration: a validating builder.

use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use super::listener::{Listener, Transition};
use super::state::MAX_PROBES;
use crate::time::Nanos;

/// How the closed state keeps its recent outcomes for the rate policies.
///
/// ```
/// use brace::breaker::WindowKind;
/// use core::time::Duration;
///
/// let by_calls = WindowKind::Count { calls: 100 };
/// let by_time = WindowKind::Time { span: Duration::from_secs(10), buckets: 10 };
/// assert_ne!(by_calls, by_time);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// The last `calls` calls, kept in blocks of at most `calls / 8` that
    /// divide it when 8 to 64 blocks can (see
    /// [`ConfigBuilder::count_window`]). The rate is taken over the
    /// completed blocks that make up the window plus the block being
    /// filled.
    Count {
        /// Calls in the window.
        calls: u32,
    },
    /// The last `span` of time, kept in `buckets` buckets of
    /// `span / buckets`; the rate is taken over the buckets of the window
    /// plus the one being filled.
    Time {
        /// Length of the window.
        span: Duration,
        /// Buckets it is divided into.
        buckets: u32,
    },
}

/// A refused configuration: which field is wrong and why.
///
/// ```
/// use brace::breaker::{Config, ConfigError};
///
/// let err = Config::builder().failure_rate(1.5).build().unwrap_err();
/// assert_eq!(err.field(), "failure_rate");
/// assert_eq!(err, ConfigError::OutOfRange { field: "failure_rate", min: 0.0, max: 1.0 });
/// assert_eq!(err.to_string(), "breaker config `failure_rate` must be within 0..=1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The field must not be zero.
    Zero {
        /// The offending field.
        field: &'static str,
    },
    /// The field is a NaN.
    NotANumber {
        /// The offending field.
        field: &'static str,
    },
    /// The field lies outside `min..=max`.
    OutOfRange {
        /// The offending field.
        field: &'static str,
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// The field exceeds what the breaker can count.
    TooLarge {
        /// The offending field.
        field: &'static str,
        /// Largest accepted value.
        max: u64,
    },
    /// The field contradicts another one.
    Inconsistent {
        /// The offending field.
        field: &'static str,
        /// What it contradicts.
        reason: &'static str,
    },
    /// No trip policy was configured, so the breaker could never open.
    NoTripPolicy,
}

impl ConfigError {
    /// The name of the builder method whose value was refused.
    pub fn field(&self) -> &'static str {
        match *self {
            ConfigError::Zero { field }
            | ConfigError::NotANumber { field }
            | ConfigError::OutOfRange { field, .. }
            | ConfigError::TooLarge { field, .. }
            | ConfigError::Inconsistent { field, .. } => field,
            ConfigError::NoTripPolicy => "trip policy",
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Zero { field } => write!(f, "breaker config `{field}` must not be zero"),
            ConfigError::NotANumber { field } => {
                write!(f, "breaker config `{field}` must be a number, not NaN")
            }
            ConfigError::OutOfRange { field, min, max } => {
                write!(f, "breaker config `{field}` must be within {min}..={max}")
            }
            ConfigError::TooLarge { field, max } => {
                write!(f, "breaker config `{field}` must be at most {max}")
            }
            ConfigError::Inconsistent { field, reason } => {
                write!(f, "breaker config `{field}` {reason}")
            }
            ConfigError::NoTripPolicy => f.write_str(
                "breaker config has no trip policy: set failure_rate, slow_call_rate or consecutive_failures",
            ),
        }
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::error::Error for ConfigError {}

/// A validated breaker configuration. Build one with [`Config::builder`].
///
/// `Config::default()` trips at a 50 % failure rate over the last 100 calls
/// once 20 calls were seen, stays open 30 s, and lets 3 probes through in
/// half-open (giving up on them after 60 s).
///
/// # Clone
///
/// Cloning is cheap: the transition listener is shared behind an `Arc`.
///
/// ```
/// use brace::breaker::Config;
/// use core::time::Duration;
///
/// let config = Config::builder()
///     .consecutive_failures(5)
///     .failure_rate(0.5)
///     .count_window(50)
///     .minimum_calls(10)
///     .open_duration(Duration::from_secs(10))
///     .open_duration_growth(2.0, Duration::from_secs(300))
///     .permitted_calls_in_half_open(2)
///     .build()?;
/// assert_eq!(config.open_duration(), Duration::from_secs(10));
/// # Ok::<(), brace::breaker::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) failure_rate: Option<f64>,
    pub(crate) slow_call_rate: Option<f64>,
    pub(crate) slow_call_duration: Nanos,
    pub(crate) window: WindowKind,
    pub(crate) minimum_calls: u32,
    pub(crate) open_duration: Nanos,
    pub(crate) open_growth: f64,
    pub(crate) max_open_duration: Nanos,
    pub(crate) open_jitter: f64,
    pub(crate) permitted_in_half_open: u32,
    pub(crate) max_wait_in_half_open: Nanos,
    pub(crate) listener: Option<Listener>,
}

impl Config {
    /// A builder with no trip policy yet and the defaults of
    /// [`Config::default`] for everything else.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config {
                consecutive_failures: None,
                failure_rate: None,
                slow_call_rate: None,
                slow_call_duration: Nanos::from_duration(Duration::from_secs(1)),
                window: WindowKind::Count { calls: 100 },
                minimum_calls: 20,
                open_duration: Nanos::from_duration(Duration::from_secs(30)),
                open_growth: 1.0,
                max_open_duration: Nanos::from_duration(Duration::from_secs(30)),
                open_jitter: 0.0,
                permitted_in_half_open: 3,
                max_wait_in_half_open: Nanos::from_duration(Duration::from_secs(60)),
                listener: None,
            },
        }
    }

    /// How long the breaker stays open after its first trip.
    pub fn open_duration(&self) -> Duration {
        self.open_duration.as_duration()
    }

    /// The window the rate policies look at.
    pub fn window(&self) -> WindowKind {
        self.window
    }

    /// Probes admitted in half-open.
    pub fn permitted_calls_in_half_open(&self) -> u32 {
        self.permitted_in_half_open
    }

    /// The duration from which a call counts as slow, if a slow-call policy
    /// is set: callers need to time their calls only then.
    pub fn slow_call_threshold(&self) -> Option<Duration> {
        self.slow_call_rate
            .map(|_| self.slow_call_duration.as_duration())
    }

    pub(crate) fn has_window(&self) -> bool {
        self.failure_rate.is_some() || self.slow_call_rate.is_some()
    }

    pub(crate) fn is_slow(&self, elapsed: Option<Nanos>) -> bool {
        self.slow_call_rate.is_some() && elapsed.is_some_and(|e| e >= self.slow_call_duration)
    }

    /// How long to stay open after the `trips`-th consecutive trip: the base
    /// duration grown by `growth^(trips-1)` and capped at the maximum, then
    /// jittered by up to `±jitter` (from `seed`). The jitter comes after
    /// the cap: capped after, every draw above the base (with no growth,
    /// the cap is the base) landed on the same instant, half of all
    /// breakers probing in lockstep.
    pub(crate) fn open_duration_for(&self, trips: u32, seed: u64) -> Nanos {
        let max = self.max_open_duration.as_u64() as f64;
        let mut d = self.open_duration.as_u64() as f64;
        for _ in 1..trips {
            if d >= max {
                break;
            }
            d *= self.open_growth;
        }
        d = d.min(max);
        if self.open_jitter > 0.0 {
            let unit = (splitmix64(seed) >> 11) as f64 / (1u64 << 53) as f64;
            d *= 1.0 - self.open_jitter + 2.0 * self.open_jitter * unit;
        }
        Nanos::new(d.max(1.0) as u64)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::builder()
            .failure_rate(0.5)
            .build()
            .expect("the default configuration is valid")
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("consecutive_failures", &self.consecutive_failures)
            .field("failure_rate", &self.failure_rate)
            .field("slow_call_rate", &self.slow_call_rate)
            .field("slow_call_duration", &self.slow_call_duration)
            .field("window", &self.window)
            .field("minimum_calls", &self.minimum_calls)
            .field("open_duration", &self.open_duration)
            .field("open_growth", &self.open_growth)
            .field("max_open_duration", &self.max_open_duration)
            .field("open_jitter", &self.open_jitter)
            .field("permitted_in_half_open", &self.permitted_in_half_open)
            .field("max_wait_in_half_open", &self.max_wait_in_half_open)
            .field("listener", &self.listener.is_some())
            .finish()
    }
}

/// Builds a [`Config`]; [`build`](ConfigBuilder::build) validates it.
///
/// ```
/// use brace::breaker::{Config, ConfigError};
/// use core::time::Duration;
///
/// let err = Config::builder()
///     .failure_rate(0.5)
///     .time_window(Duration::from_secs(10), 0)
///     .build()
///     .unwrap_err();
/// assert_eq!(err, ConfigError::Zero { field: "time_window.buckets" });
/// ```
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// Trip after `n` failures in a row (a success resets the count).
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.config.consecutive_failures = Some(n);
        self
    }

    /// Trip when at least this fraction (`0.0..=1.0`) of the calls in the
    /// window failed (`0.0`: on any failure, once the window holds
    /// `minimum_calls`).
    pub fn failure_rate(mut self, threshold: f64) -> Self {
        self.config.failure_rate = Some(threshold);
        self
    }

    /// Trip when at least `threshold` of the calls in the window took
    /// `slow_after` or longer (durations come from
    /// [`Permit::record_success_after`](super::Permit::record_success_after)
    /// and friends). In half-open a slow probe counts as a failed one.
    pub fn slow_call_rate(mut self, threshold: f64, slow_after: Duration) -> Self {
        self.config.slow_call_rate = Some(threshold);
        self.config.slow_call_duration = Nanos::from_duration(slow_after);
        self
    }

    /// Rates are taken over the last `calls` calls (the default, 100).
    ///
    /// The window is kept in blocks of at most `calls / 8` calls (the
    /// fewest blocks, 8 to 64, that divide `calls`; one call each for 8
    /// calls or fewer), each recorded by one thread; a thread's calls not
    /// yet filling a block are counted too, so with `t` threads recording
    /// the window holds between `calls` and about `calls + t × calls / 8`
    /// of the latest calls (threads share 8 counters, so never more than
    /// about twice `calls`). One thread sees exactly the last `calls` to
    /// `calls + calls / 8`. When no count from 8 to 64 divides `calls` (a
    /// prime above 64, say), the blocks are 8 of `ceil(calls / 8)`, which
    /// adds up to 7 calls to those figures.
    pub fn count_window(mut self, calls: u32) -> Self {
        self.config.window = WindowKind::Count { calls };
        self
    }

    /// Rates are taken over the last `span`, kept in `buckets` buckets.
    ///
    /// A bucket counts in 8 thread-striped 32-bit counters: a bucket whose
    /// calls on one stripe reach 2^32 (4.3 billion: 1.2 million calls a
    /// second from one thread for an hour-long bucket) wraps that count.
    /// Keep `span / buckets` short enough for your rate.
    pub fn time_window(mut self, span: Duration, buckets: u32) -> Self {
        self.config.window = WindowKind::Time { span, buckets };
        self
    }

    /// No rate can trip before the window holds this many calls (default
    /// 20). With a count window and a rate it must not exceed the window's
    /// size: [`build`](Self::build) refuses it (`Inconsistent`).
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.config.minimum_calls = calls;
        self
    }

    /// How long the breaker stays open after a trip (default 30 s).
    pub fn open_duration(mut self, open: Duration) -> Self {
        self.config.open_duration = Nanos::from_duration(open);
        if self.config.open_growth == 1.0 {
            self.config.max_open_duration = self.config.open_duration;
        }
        self
    }

    /// Each further trip in a row (without closing in between) multiplies
    /// the open duration by `factor`, up to `max` (before jitter).
    pub fn open_duration_growth(mut self, factor: f64, max: Duration) -> Self {
        self.config.open_growth = factor;
        self.config.max_open_duration = Nanos::from_duration(max);
        self
    }

    /// Spreads each open duration uniformly over `±fraction` of itself
    /// (`0.0..=0.999`), so breakers in many processes do not probe in
    /// lockstep. Applied after the growth cap, so a jittered duration may
    /// pass the cap by up to `fraction` of it.
    pub fn open_duration_jitter(mut self, fraction: f64) -> Self {
        self.config.open_jitter = fraction;
        self
    }

    /// Probes admitted in half-open; this many successes close the breaker
    /// (default 3, at most 2047).
    pub fn permitted_calls_in_half_open(mut self, probes: u32) -> Self {
        self.config.permitted_in_half_open = probes;
        self
    }

    /// If the half-open probes have not all reported after this long, the
    /// breaker opens again (default 60 s), so a lost probe cannot wedge it.
    pub fn max_wait_in_half_open(mut self, wait: Duration) -> Self {
        self.config.max_wait_in_half_open = Nanos::from_duration(wait);
        self
    }

    /// Calls `listener` after every change of state, on the thread that made
    /// the change, once the new state is in force. It should be quick.
    ///
    /// # Order
    ///
    /// Two transitions in quick succession on different threads may have
    /// their listeners run concurrently or out of order;
    /// [`Transition::generation`] orders them.
    pub fn on_transition(mut self, listener: impl Fn(Transition) + Send + Sync + 'static) -> Self {
        self.config.listener = Some(Arc::new(listener));
        self
    }

    /// Validates the configuration.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first field that is zero, NaN, out of
    /// range, too large or inconsistent, or [`ConfigError::NoTripPolicy`].
    pub fn build(self) -> Result<Config, ConfigError> {
        let c = &self.config;
        if c.consecutive_failures.is_none() && !c.has_window() {
            return Err(ConfigError::NoTripPolicy);
        }
        if c.consecutive_failures == Some(0) {
            return Err(ConfigError::Zero {
                field: "consecutive_failures",
            });
        }
        check_rate("failure_rate", c.failure_rate)?;
        check_rate("slow_call_rate", c.slow_call_rate)?;
        if c.slow_call_rate.is_some() && c.slow_call_duration == Nanos::ZERO {
            return Err(ConfigError::Zero {
                field: "slow_call_rate.slow_after",
            });
        }
        match c.window {
            WindowKind::Count { calls: 0 } => {
                return Err(ConfigError::Zero {
                    field: "count_window",
                });
            }
            WindowKind::Count { calls } if calls > 1 << 30 => {
                return Err(ConfigError::TooLarge {
                    field: "count_window",
                    max: 1 << 30,
                });
            }
            WindowKind::Count { .. } => {}
            WindowKind::Time { buckets: 0, .. } => {
                return Err(ConfigError::Zero {
                    field: "time_window.buckets",
                });
            }
            WindowKind::Time { buckets, .. } if buckets > 1000 => {
                return Err(ConfigError::TooLarge {
                    field: "time_window.buckets",
                    max: 1000,
                });
            }
            WindowKind::Time { span, buckets } => {
                if (span / buckets).is_zero() {
                    return Err(ConfigError::Zero {
                        field: "time_window.span",
                    });
                }
            }
        }
        if c.minimum_calls == 0 {
            return Err(ConfigError::Zero {
                field: "minimum_calls",
            });
        }
        if let WindowKind::Count { calls } = c.window {
            if c.has_window() && c.minimum_calls > calls {
                return Err(ConfigError::Inconsistent {
                    field: "minimum_calls",
                    reason: "must not exceed the count window, or no rate could ever trip",
                });
            }
        }
        if c.open_duration == Nanos::ZERO {
            return Err(ConfigError::Zero {
                field: "open_duration",
            });
        }
        if c.open_growth.is_nan() {
            return Err(ConfigError::NotANumber {
                field: "open_duration_growth.factor",
            });
        }
        if !(1.0..=1000.0).contains(&c.open_growth) {
            return Err(ConfigError::OutOfRange {
                field: "open_duration_growth.factor",
                min: 1.0,
                max: 1000.0,
            });
        }
        if c.max_open_duration < c.open_duration {
            return Err(ConfigError::Inconsistent {
                field: "open_duration_growth.max",
                reason: "must not be shorter than open_duration",
            });
        }
        if c.open_jitter.is_nan() {
            return Err(ConfigError::NotANumber {
                field: "open_duration_jitter",
            });
        }
        if !(0.0..=0.999).contains(&c.open_jitter) {
            return Err(ConfigError::OutOfRange {
                field: "open_duration_jitter",
                min: 0.0,
                max: 0.999,
            });
        }
        if c.permitted_in_half_open == 0 {
            return Err(ConfigError::Zero {
                field: "permitted_calls_in_half_open",
            });
        }
        if c.permitted_in_half_open > MAX_PROBES {
            return Err(ConfigError::TooLarge {
                field: "permitted_calls_in_half_open",
                max: MAX_PROBES as u64,
            });
        }
        if c.max_wait_in_half_open == Nanos::ZERO {
            return Err(ConfigError::Zero {
                field: "max_wait_in_half_open",
            });
        }
        Ok(self.config)
    }
}

fn check_rate(field: &'static str, rate: Option<f64>) -> Result<(), ConfigError> {
    match rate {
        Some(r) if r.is_nan() => Err(ConfigError::NotANumber { field }),
        Some(r) if !(0.0..=1.0).contains(&r) => Err(ConfigError::OutOfRange {
            field,
            min: 0.0,
            max: 1.0,
        }),
        _ => Ok(()),
    }
}

/// A stateless 64-bit mixer (SplitMix64's finaliser) for the open-duration
/// jitter: deterministic for a given seed, so tests can predict it.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate_builder() -> ConfigBuilder {
        Config::builder().failure_rate(0.5)
    }

    #[test]
    fn refuses_each_bad_field_by_name() {
        let cases: [(ConfigBuilder, &str); 12] = [
            (Config::builder(), "trip policy"),
            (
                Config::builder().consecutive_failures(0),
                "consecutive_failures",
            ),
            (Config::builder().failure_rate(f64::NAN), "failure_rate"),
            (
                Config::builder().slow_call_rate(-0.1, Duration::from_secs(1)),
                "slow_call_rate",
            ),
            (
                Config::builder().slow_call_rate(0.5, Duration::ZERO),
                "slow_call_rate.slow_after",
            ),
            (rate_builder().count_window(0), "count_window"),
            (
                rate_builder().time_window(Duration::from_nanos(5), 10),
                "time_window.span",
            ),
            (rate_builder().minimum_calls(0), "minimum_calls"),
            (
                rate_builder().open_duration(Duration::ZERO),
                "open_duration",
            ),
            (
                rate_builder().open_duration_growth(0.5, Duration::from_secs(60)),
                "open_duration_growth.factor",
            ),
            (
                rate_builder().open_duration_jitter(1.0),
                "open_duration_jitter",
            ),
            (
                rate_builder().permitted_calls_in_half_open(5000),
                "permitted_calls_in_half_open",
            ),
        ];
        for (builder, field) in cases {
            assert_eq!(builder.build().unwrap_err().field(), field);
        }
        let err = rate_builder()
            .open_duration(Duration::from_secs(10))
            .open_duration_growth(2.0, Duration::from_secs(5))
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Inconsistent {
                field: "open_duration_growth.max",
                ..
            }
        ));
    }

    #[test]
    fn open_duration_grows_and_caps() {
        let c = rate_builder()
            .open_duration(Duration::from_secs(1))
            .open_duration_growth(2.0, Duration::from_secs(5))
            .build()
            .unwrap();
        let secs = |t| c.open_duration_for(t, 0).as_duration().as_secs();
        assert_eq!(
            [secs(1), secs(2), secs(3), secs(4), secs(9)],
            [1, 2, 4, 5, 5]
        );
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let c = rate_builder()
            .open_duration(Duration::from_secs(10))
            .open_duration_growth(1.0, Duration::from_secs(20))
            .open_duration_jitter(0.2)
            .build()
            .unwrap();
        let mut seen = alloc::collections::BTreeSet::new();
        for seed in 0..200 {
            let d = c.open_duration_for(1, seed).as_duration();
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 150, "jitter spreads durations");
    }
}
