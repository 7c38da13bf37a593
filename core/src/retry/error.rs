//! Why a retry loop stopped, and why a retry configuration was refused.

use core::fmt;
use core::time::Duration;

/// Why [`Retry::run`](super::Retry::run) gave up.
///
/// ```
/// use brace::retry::StopReason;
///
/// assert_eq!(StopReason::AttemptsExhausted.to_string(), "the attempts allowed by the policy were used up");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// Every attempt the policy allows failed.
    AttemptsExhausted,
    /// The retry budget had nothing left for another attempt.
    BudgetExhausted,
    /// The next attempt could not start before the caller's deadline or the
    /// policy's maximum elapsed time, so the loop gave up without sleeping.
    Deadline,
    /// The classifier said the error is not worth retrying.
    NotRetryable,
    /// The dependency refused the call without trying it (an open circuit
    /// breaker). Nothing was retried and no budget was spent on it.
    Rejected {
        /// How long until the dependency admits a call again, if known.
        retry_in: Option<Duration>,
    },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::AttemptsExhausted => {
                f.write_str("the attempts allowed by the policy were used up")
            }
            StopReason::BudgetExhausted => f.write_str("the retry budget is empty"),
            StopReason::Deadline => {
                f.write_str("the next attempt could not start before the deadline")
            }
            StopReason::NotRetryable => f.write_str("the error is not retryable"),
            StopReason::Rejected { retry_in: Some(d) } => {
                write!(f, "the circuit is open for another {d:?}")
            }
            StopReason::Rejected { retry_in: None } => f.write_str("the circuit is open"),
        }
    }
}

/// The result of a retry loop that did not succeed: why it stopped, how many
/// attempts ran and the last error.
///
/// ```
/// use brace::retry::{RetryError, StopReason};
///
/// let err = RetryError::new(StopReason::AttemptsExhausted, 3, Some("timeout"));
/// assert_eq!(err.reason(), StopReason::AttemptsExhausted);
/// assert_eq!(err.attempts(), 3);
/// assert_eq!(err.last_error(), Some(&"timeout"));
/// assert_eq!(
///     err.to_string(),
///     "gave up after 3 attempts: the attempts allowed by the policy were used up; last error: timeout"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryError<E> {
    reason: StopReason,
    attempts: u32,
    last_error: Option<E>,
}

impl<E> RetryError<E> {
    /// Builds an error; the executor does this, tests and adapters may too.
    pub fn new(reason: StopReason, attempts: u32, last_error: Option<E>) -> Self {
        RetryError {
            reason,
            attempts,
            last_error,
        }
    }

    /// Why the loop stopped.
    pub fn reason(&self) -> StopReason {
        self.reason
    }

    /// How many times the operation ran (0 when a breaker refused the very
    /// first attempt).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The error of the last attempt; `None` only when no attempt ran.
    pub fn last_error(&self) -> Option<&E> {
        self.last_error.as_ref()
    }

    /// Takes the last error out.
    pub fn into_last_error(self) -> Option<E> {
        self.last_error
    }
}

impl<E: fmt::Display> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.attempts == 1 { "" } else { "s" };
        write!(
            f,
            "gave up after {} attempt{plural}: {}",
            self.attempts, self.reason
        )?;
        if let Some(e) = &self.last_error {
            write!(f, "; last error: {e}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl<E: std::error::Error + 'static> std::error::Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.last_error
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A retry, backoff or budget setting that was refused when built, naming
/// the field and what is wrong with it.
///
/// ```
/// use brace::retry::Backoff;
/// use core::time::Duration;
///
/// let err = Backoff::exponential(Duration::from_millis(10), 0.5).build().unwrap_err();
/// assert_eq!(err.field(), "factor");
/// assert_eq!(err.to_string(), "invalid retry setting `factor`: must be a finite number of at least 1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    problem: &'static str,
}

impl ConfigError {
    pub(crate) const fn new(field: &'static str, problem: &'static str) -> Self {
        ConfigError { field, problem }
    }

    /// The name of the offending builder method / field.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &'static str {
        self.problem
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid retry setting `{}`: {}",
            self.field, self.problem
        )
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::error::Error for ConfigError {}
