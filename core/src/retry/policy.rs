//! What to retry and for how long: [`RetryPolicy`], [`Decision`] and the
//! [`Classify`] trait.

use core::time::Duration;

use super::backoff::Backoff;
use super::error::ConfigError;

/// What to do after an attempt failed with a given error.
///
/// ```
/// use brace::retry::Decision;
/// use core::time::Duration;
///
/// fn classify_status(status: u16, retry_after_secs: Option<u64>) -> Decision {
///     match (status, retry_after_secs) {
///         (429 | 503, Some(secs)) => Decision::RetryAfter(Duration::from_secs(secs)),
///         (500..=599, _) => Decision::Retry,
///         _ => Decision::DoNotRetry,
///     }
/// }
/// assert_eq!(classify_status(503, Some(2)), Decision::RetryAfter(Duration::from_secs(2)));
/// assert_eq!(classify_status(404, None), Decision::DoNotRetry);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Transient: retry after the backoff's next delay.
    Retry,
    /// The server pushed back with a wait (`Retry-After`): retry after that
    /// wait, capped at [`RetryPolicy::max_retry_after`].
    RetryAfter(Duration),
    /// Permanent (bad request, not found, ...): stop now.
    DoNotRetry,
    /// The call was refused before reaching the dependency, by an open
    /// circuit breaker: stop now, spend no retry budget. Carries how long
    /// until the breaker admits a call again, if known.
    Rejected(Option<Duration>),
}

impl From<&crate::breaker::Rejected> for Decision {
    /// A breaker's rejection: stop, spend nothing, say when to come back.
    ///
    /// ```
    /// use brace::breaker::Rejected;
    /// use brace::retry::Decision;
    ///
    /// assert_eq!(Decision::from(&Rejected::ForcedOpen), Decision::Rejected(None));
    /// ```
    fn from(rejected: &crate::breaker::Rejected) -> Self {
        Decision::Rejected(rejected.retry_after())
    }
}

/// Decides, per failed attempt, whether to retry.
///
/// Implemented for every `Fn(&E) -> Decision`, and by [`RetryAll`] (the
/// executor's default), which retries every error.
///
/// ```
/// use brace::retry::{Classify, Decision, RetryAll};
///
/// let only_timeouts = |e: &&str| if *e == "timeout" { Decision::Retry } else { Decision::DoNotRetry };
/// assert_eq!(only_timeouts.classify(&"timeout"), Decision::Retry);
/// assert_eq!(Classify::<&str>::classify(&RetryAll, &"anything"), Decision::Retry);
/// ```
pub trait Classify<E> {
    /// What to do about `error`.
    fn classify(&self, error: &E) -> Decision;
}

impl<E, F: Fn(&E) -> Decision> Classify<E> for F {
    #[inline]
    fn classify(&self, error: &E) -> Decision {
        self(error)
    }
}

/// The default classifier: every error is transient.
///
/// ```
/// use brace::retry::{Classify, Decision, RetryAll};
/// assert_eq!(Classify::<u8>::classify(&RetryAll, &7), Decision::Retry);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryAll;

impl<E> Classify<E> for RetryAll {
    #[inline]
    fn classify(&self, _error: &E) -> Decision {
        Decision::Retry
    }
}

/// How many attempts, how far apart, and for how long.
///
/// * `max_attempts`: attempts in total, the first included (default 3).
/// * `max_elapsed`: no retry is planned to start later than this after the
///   first attempt started (default: no limit); a sleeper that wakes late
///   may start a planned retry a little past it. The caller's own deadline,
///   given per call to [`Retry::deadline`](super::Retry::deadline), is
///   checked again before every attempt.
/// * `max_retry_after`: the longest server-requested wait
///   ([`Decision::RetryAfter`]) honoured; longer requests wait this long
///   (default 60 s).
/// * the [`Backoff`] between attempts.
///
/// # Clone
///
/// `RetryPolicy` is `Copy`; share it freely.
///
/// ```
/// use brace::retry::{Backoff, RetryPolicy};
/// use core::time::Duration;
///
/// let backoff = Backoff::exponential(Duration::from_millis(50), 2.0)
///     .max_delay(Duration::from_secs(2))
///     .build()
///     .unwrap();
/// let policy = RetryPolicy::builder(backoff)
///     .max_attempts(4)
///     .max_elapsed(Duration::from_secs(5))
///     .max_retry_after(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// assert_eq!(policy.max_attempts(), 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    backoff: Backoff,
    max_attempts: u32,
    max_elapsed: Option<Duration>,
    max_retry_after: Duration,
}

/// Collects a [`RetryPolicy`]'s settings; [`build`](RetryPolicyBuilder::build)
/// validates them.
///
/// ```
/// use brace::retry::{Backoff, RetryPolicy};
///
/// let err = RetryPolicy::builder(Backoff::none()).max_attempts(0).build().unwrap_err();
/// assert_eq!(err.field(), "max_attempts");
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RetryPolicyBuilder {
    policy: RetryPolicy,
}

impl RetryPolicy {
    /// Starts a policy that waits according to `backoff`.
    pub fn builder(backoff: Backoff) -> RetryPolicyBuilder {
        RetryPolicyBuilder {
            policy: RetryPolicy {
                backoff,
                max_attempts: 3,
                max_elapsed: None,
                max_retry_after: Duration::from_secs(60),
            },
        }
    }

    /// The backoff between attempts.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// Attempts in total, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The time after the first attempt's start past which no attempt
    /// starts.
    pub fn max_elapsed(&self) -> Option<Duration> {
        self.max_elapsed
    }

    /// The cap on server-requested waits.
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }
}

impl RetryPolicyBuilder {
    /// Attempts in total, the first included (at least 1; 1 means never
    /// retry).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.policy.max_attempts = attempts;
        self
    }

    /// No attempt starts later than `limit` after the first one started.
    pub fn max_elapsed(mut self, limit: Duration) -> Self {
        self.policy.max_elapsed = Some(limit);
        self
    }

    /// Caps server-requested waits ([`Decision::RetryAfter`]) at `cap`.
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.policy.max_retry_after = cap;
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    ///
    /// * `max_attempts`: zero.
    /// * `max_elapsed`: zero (no attempt after the first could ever start;
    ///   use `max_attempts(1)` to say that).
    pub fn build(self) -> Result<RetryPolicy, ConfigError> {
        let p = self.policy;
        if p.max_attempts == 0 {
            return Err(ConfigError::new(
                "max_attempts",
                "must be at least 1 (the first attempt)",
            ));
        }
        if p.max_elapsed == Some(Duration::ZERO) {
            return Err(ConfigError::new("max_elapsed", "must be greater than zero"));
        }
        Ok(p)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_three_attempts_no_elapsed_limit_one_minute_pushback_cap() {
        let p = RetryPolicy::builder(Backoff::none()).build().unwrap();
        assert_eq!(p.max_attempts(), 3);
        assert_eq!(p.max_elapsed(), None);
        assert_eq!(p.max_retry_after(), Duration::from_secs(60));
    }

    #[test]
    fn zero_limits_are_refused_by_name() {
        let b = RetryPolicy::builder(Backoff::none());
        assert_eq!(
            b.max_attempts(0).build().unwrap_err().field(),
            "max_attempts"
        );
        assert_eq!(
            b.max_elapsed(Duration::ZERO).build().unwrap_err().field(),
            "max_elapsed"
        );
    }
}
