//! Backoff schedules: how long to wait before each retry.
//!
//! A [`Backoff`] is a small `Copy` description (shape, base, cap, jitter);
//! [`Backoff::delays`] turns it into [`Delays`], an endless iterator of
//! waits that allocates nothing. Jitter follows the definitions in Marc
//! Brooker's "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015),
//! where `d` is the shape's un-jittered delay for this retry, capped:
//!
//! | [`Jitter`] | wait |
//! |---|---|
//! | `None` | `d` |
//! | `Full` | uniform in `[0, d]` |
//! | `Equal` | `d/2` + uniform in `[0, d/2]` |
//! | `Decorrelated` | `min(cap, uniform in [base, 3 × previous wait])`, previous starting at `base` |

use core::time::Duration;

use super::error::ConfigError;
use super::rng::{RandomSource, SplitMix64};
use crate::time::Nanos;

/// How the un-jittered delay grows from one retry to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Constant,
    Linear { step: u64 },
    Exponential { factor: f64 },
}

/// How each delay is randomised so that clients which failed together do not
/// retry together.
///
/// The definitions of Marc Brooker's "Exponential Backoff And Jitter" (AWS
/// Architecture Blog, 2015), where `d` is the shape's un-jittered delay for
/// this retry, capped:
///
/// | `Jitter` | wait |
/// |---|---|
/// | `None` | `d` |
/// | `Full` | uniform in `[0, d]` |
/// | `Equal` | `d/2` + uniform in `[0, d/2]` |
/// | `Decorrelated` | `min(cap, uniform in [base, 3 × previous wait])`, previous starting at `base` |
///
/// ```
/// use brace::retry::{Backoff, Jitter};
/// use core::time::Duration;
///
/// let backoff = Backoff::constant(Duration::from_millis(100))
///     .jitter(Jitter::Full)
///     .build()
///     .unwrap();
/// assert!(backoff.delays_seeded(1).take(10).all(|d| d <= Duration::from_millis(100)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// No randomness: the shape's delay exactly.
    None,
    /// Uniform between zero and the delay. Spreads load best; the AWS
    /// recommendation for most clients.
    #[default]
    Full,
    /// Half the delay, plus uniform up to the other half: never retries
    /// sooner than half the delay.
    Equal,
    /// Uniform between `base` and three times the previous wait, capped. Its
    /// growth comes from the previous wait, so the shape's growth is not used
    /// (only its base and cap).
    Decorrelated,
}

/// A backoff schedule: a shape (constant, linear, exponential), a base delay,
/// a cap and a [`Jitter`].
///
/// Build one with [`Backoff::constant`], [`Backoff::linear`] or
/// [`Backoff::exponential`]; the default jitter is [`Jitter::Full`] and the
/// default cap is unbounded.
///
/// # Clone
///
/// `Backoff` is `Copy`: a handful of numbers. Every call to
/// [`delays`](Backoff::delays) starts an independent schedule.
///
/// ```
/// use brace::retry::{Backoff, Jitter};
/// use core::time::Duration;
///
/// let backoff = Backoff::exponential(Duration::from_millis(10), 2.0)
///     .max_delay(Duration::from_millis(50))
///     .jitter(Jitter::None)
///     .build()
///     .unwrap();
/// let ms: Vec<u128> = backoff.delays().take(5).map(|d| d.as_millis()).collect();
/// assert_eq!(ms, [10, 20, 40, 50, 50]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    shape: Shape,
    base: u64,
    cap: u64,
    jitter: Jitter,
}

/// Collects a [`Backoff`]'s settings; [`build`](BackoffBuilder::build)
/// validates them.
///
/// ```
/// use brace::retry::Backoff;
/// use core::time::Duration;
///
/// let err = Backoff::constant(Duration::from_secs(1))
///     .max_delay(Duration::from_millis(1))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.field(), "max_delay");
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct BackoffBuilder {
    backoff: Backoff,
}

impl Backoff {
    fn builder(shape: Shape, base: Duration) -> BackoffBuilder {
        BackoffBuilder {
            backoff: Backoff {
                shape,
                base: Nanos::from_duration(base).as_u64(),
                cap: u64::MAX,
                jitter: Jitter::default(),
            },
        }
    }

    /// The same delay before every retry.
    pub fn constant(delay: Duration) -> BackoffBuilder {
        Self::builder(Shape::Constant, delay)
    }

    /// `base`, then `base + step`, `base + 2 × step`, ...
    pub fn linear(base: Duration, step: Duration) -> BackoffBuilder {
        let step = Nanos::from_duration(step).as_u64();
        Self::builder(Shape::Linear { step }, base)
    }

    /// `base`, then `base × factor`, `base × factor²`, ... (`factor` at
    /// least 1; checked by [`build`](BackoffBuilder::build)).
    pub fn exponential(base: Duration, factor: f64) -> BackoffBuilder {
        Self::builder(Shape::Exponential { factor }, base)
    }

    /// No wait at all between attempts (retry at once).
    pub fn none() -> Backoff {
        Backoff {
            shape: Shape::Constant,
            base: 0,
            cap: u64::MAX,
            jitter: Jitter::None,
        }
    }

    /// Whether every delay is zero (a constant zero base, whatever the
    /// jitter), so a retry loop can skip the schedule.
    pub(crate) fn is_zero(&self) -> bool {
        self.base == 0 && matches!(self.shape, Shape::Constant)
    }

    /// The first un-jittered delay.
    pub fn base(&self) -> Duration {
        Duration::from_nanos(self.base)
    }

    /// The largest delay this schedule ever yields.
    pub fn max_delay(&self) -> Duration {
        Duration::from_nanos(self.cap)
    }

    /// The jitter kind.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// A schedule seeded from entropy ([`SplitMix64::from_entropy`]), so
    /// that clients do not jitter in lock-step.
    pub fn delays(&self) -> Delays<SplitMix64> {
        self.delays_with(SplitMix64::from_entropy())
    }

    /// A reproducible schedule: the same seed gives the same delays.
    pub fn delays_seeded(&self, seed: u64) -> Delays<SplitMix64> {
        self.delays_with(SplitMix64::new(seed))
    }

    /// A schedule drawing its randomness from `rng`.
    pub fn delays_with<R: RandomSource>(&self, rng: R) -> Delays<R> {
        Delays {
            backoff: *self,
            raw: self.base,
            exact: self.base as f64,
            previous: self.base,
            rng,
        }
    }
}

impl BackoffBuilder {
    /// Caps every delay (after growth and jitter) at `max`.
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.backoff.cap = Nanos::from_duration(max).as_u64();
        self
    }

    /// Sets the jitter kind (default [`Jitter::Full`]).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.backoff.jitter = jitter;
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    ///
    /// * `factor`: an exponential factor below 1, infinite or NaN.
    /// * `max_delay`: a cap below the base delay.
    pub fn build(self) -> Result<Backoff, ConfigError> {
        let b = self.backoff;
        if let Shape::Exponential { factor } = b.shape {
            if !(factor.is_finite() && factor >= 1.0) {
                return Err(ConfigError::new(
                    "factor",
                    "must be a finite number of at least 1",
                ));
            }
        }
        if b.cap < b.base {
            return Err(ConfigError::new(
                "max_delay",
                "must be at least the base delay",
            ));
        }
        Ok(b)
    }
}

/// The delays of one retry sequence, first retry first. Endless: the
/// [`RetryPolicy`](super::RetryPolicy) decides how many are used.
///
/// ```
/// use brace::retry::{Backoff, Jitter};
/// use core::time::Duration;
///
/// let backoff = Backoff::linear(Duration::from_millis(5), Duration::from_millis(5))
///     .jitter(Jitter::None)
///     .build()
///     .unwrap();
/// let mut delays = backoff.delays();
/// assert_eq!(delays.next(), Some(Duration::from_millis(5)));
/// assert_eq!(delays.next(), Some(Duration::from_millis(10)));
/// ```
#[derive(Debug, Clone)]
pub struct Delays<R> {
    backoff: Backoff,
    /// The shape's next un-jittered, un-capped delay.
    raw: u64,
    /// The exponential shape's delay before truncation to whole nanoseconds,
    /// so truncation does not compound from one retry to the next.
    exact: f64,
    /// The previous wait (decorrelated jitter only).
    previous: u64,
    rng: R,
}

impl<R: RandomSource> Delays<R> {
    /// The next delay in nanoseconds.
    #[inline]
    fn next_nanos(&mut self) -> u64 {
        let Backoff {
            shape,
            base,
            cap,
            jitter,
        } = self.backoff;
        let capped = self.raw.min(cap);
        self.raw = match shape {
            Shape::Constant => self.raw,
            Shape::Linear { step } => self.raw.saturating_add(step),
            // `as` saturates at u64::MAX, so growth stops at the top.
            Shape::Exponential { factor } => {
                self.exact *= factor;
                self.exact as u64
            }
        };
        match jitter {
            Jitter::None => capped,
            Jitter::Full => self.rng.between(0, capped),
            Jitter::Equal => {
                let half = capped / 2;
                half + self.rng.between(0, capped - half)
            }
            Jitter::Decorrelated => {
                let wait = self
                    .rng
                    .between(base, self.previous.saturating_mul(3))
                    .min(cap);
                self.previous = wait;
                wait
            }
        }
    }
}

impl<R: RandomSource> Iterator for Delays<R> {
    type Item = Duration;

    #[inline]
    fn next(&mut self) -> Option<Duration> {
        Some(Duration::from_nanos(self.next_nanos()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn shapes_without_jitter_follow_their_formulas() {
        let take = |b: BackoffBuilder| -> alloc::vec::Vec<u128> {
            b.jitter(Jitter::None)
                .build()
                .unwrap()
                .delays()
                .take(5)
                .map(|d| d.as_millis())
                .collect()
        };
        assert_eq!(take(Backoff::constant(ms(7))), [7, 7, 7, 7, 7]);
        assert_eq!(take(Backoff::linear(ms(10), ms(5))), [10, 15, 20, 25, 30]);
        assert_eq!(
            take(Backoff::exponential(ms(1), 3.0).max_delay(ms(20))),
            [1, 3, 9, 20, 20]
        );
        assert_eq!(
            take(Backoff::exponential(ms(100), 1.5)),
            [100, 150, 225, 337, 506]
        );
    }

    #[test]
    fn exponential_growth_saturates_instead_of_overflowing() {
        let b = Backoff::exponential(Duration::from_secs(1), 10.0)
            .jitter(Jitter::None)
            .build()
            .unwrap();
        let last = b.delays().nth(100).unwrap();
        assert_eq!(last, Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn invalid_settings_name_their_field() {
        for factor in [0.99, f64::NAN, f64::INFINITY] {
            let err = Backoff::exponential(ms(1), factor).build().unwrap_err();
            assert_eq!(err.field(), "factor");
        }
        let err = Backoff::linear(ms(2), ms(1))
            .max_delay(ms(1))
            .build()
            .unwrap_err();
        assert_eq!(err.field(), "max_delay");
    }

    #[test]
    fn none_never_waits() {
        assert!(Backoff::none().delays().take(10).all(|d| d.is_zero()));
    }

    #[test]
    fn seeded_schedules_repeat_and_full_jitter_actually_varies() {
        let b = Backoff::constant(ms(100)).build().unwrap();
        let a: alloc::vec::Vec<_> = b.delays_seeded(9).take(20).collect();
        let again: alloc::vec::Vec<_> = b.delays_seeded(9).take(20).collect();
        assert_eq!(a, again);
        assert!(a.iter().any(|d| *d != a[0]), "jitter should vary: {a:?}");
    }

    fn jitter_strategy() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated)
        ]
    }

    fn shape_strategy() -> impl Strategy<Value = (u8, u64, f64)> {
        (0u8..3, 0u64..1_000_000_000, 1.0f64..4.0)
    }

    proptest! {
        /// Reference model: the un-jittered, capped delay of retry `n`,
        /// computed directly from the shape's formula; every delay must lie
        /// in its jitter kind's interval around it.
        #[test]
        fn every_delay_lies_in_its_jitter_bounds(
            (kind, base, factor) in shape_strategy(),
            cap_extra in 0u64..5_000_000_000,
            jitter in jitter_strategy(),
            seed in any::<u64>(),
        ) {
            let base_d = Duration::from_nanos(base);
            let step = Duration::from_nanos(base / 2 + 1);
            let builder = match kind {
                0 => Backoff::constant(base_d),
                1 => Backoff::linear(base_d, step),
                _ => Backoff::exponential(base_d, factor),
            };
            let cap = base + cap_extra;
            let backoff = builder
                .max_delay(Duration::from_nanos(cap))
                .jitter(jitter)
                .build()
                .unwrap();
            let mut model_raw = base as f64;
            let mut previous = base;
            for (n, delay) in backoff.delays_seeded(seed).take(40).enumerate() {
                let d = delay.as_nanos() as u64;
                let expected = match kind {
                    0 => base,
                    1 => base.saturating_add((base / 2 + 1).saturating_mul(n as u64)),
                    _ => model_raw as u64,
                }.min(cap);
                model_raw *= factor;
                match jitter {
                    Jitter::None => prop_assert_eq!(d, expected),
                    Jitter::Full => prop_assert!(d <= expected),
                    Jitter::Equal => prop_assert!(expected / 2 <= d && d <= expected),
                    Jitter::Decorrelated => {
                        let high = cap.min(previous.saturating_mul(3));
                        prop_assert!(base <= d && d <= high.max(base),
                            "{d} outside [{base}, {high}]");
                        previous = d;
                    }
                }
                prop_assert!(d <= cap);
            }
        }
    }
}
