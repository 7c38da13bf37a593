//! What the retry middleware tells the caller: [`RetryOutcome`] on the
//! response, [`RetryFailed`] in the error, [`GaveUp`] in both.

use std::fmt;
use std::time::Duration;

/// Why the retry middleware stopped with a result it would otherwise have
/// retried (or, in [`RetryFailed`], with an error).
///
/// ```
/// use brace_reqwest::GaveUp;
/// assert_eq!(GaveUp::BodyNotCloneable.to_string(), "the request body cannot be cloned, so it was sent once");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GaveUp {
    /// The classifier said the result is final (a permanent error).
    NotRetryable,
    /// The method is not idempotent (POST, PATCH, ...) and was not opted in.
    MethodNotRetried,
    /// The body is a stream (`try_clone()` is `None`): it can be sent once.
    BodyNotCloneable,
    /// Every attempt the policy allows was made.
    AttemptsExhausted,
    /// The shared retry budget had nothing left.
    BudgetExhausted,
    /// The next attempt could not start within the policy's `max_elapsed`.
    Deadline,
    /// A circuit breaker refused the request; it is never retried.
    CircuitOpen,
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GaveUp::NotRetryable => "the result is not retryable",
            GaveUp::MethodNotRetried => {
                "the method is not idempotent and retries were not enabled for it"
            }
            GaveUp::BodyNotCloneable => "the request body cannot be cloned, so it was sent once",
            GaveUp::AttemptsExhausted => "the attempts allowed by the policy were used up",
            GaveUp::BudgetExhausted => "the retry budget is empty",
            GaveUp::Deadline => "the next attempt could not start within the policy's time limit",
            GaveUp::CircuitOpen => "the circuit breaker is open",
        })
    }
}

/// Response extension (also inserted into the middleware `Extensions`):
/// how many attempts produced this response, and, if the response was one
/// the classifier wanted retried, why it was not.
///
/// ```
/// use brace_reqwest::{GaveUp, RetryOutcome};
///
/// let mut response = http::Response::new("");
/// response.extensions_mut().insert(RetryOutcome { attempts: 3, gave_up: Some(GaveUp::AttemptsExhausted) });
/// let response = reqwest::Response::from(response);
/// assert_eq!(RetryOutcome::of(&response).map(|o| o.attempts), Some(3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOutcome {
    /// Attempts sent, the first included.
    pub attempts: u32,
    /// `None` when the classifier accepted the response as final.
    pub gave_up: Option<GaveUp>,
}

impl RetryOutcome {
    /// The outcome recorded on `response`, if it went through
    /// [`RetryMiddleware`](crate::RetryMiddleware).
    pub fn of(response: &reqwest::Response) -> Option<&RetryOutcome> {
        response.extensions().get::<RetryOutcome>()
    }
}

/// The error of a request the retry middleware gave up on: attempts made,
/// why it stopped, and the last attempt's error (its
/// [`source`](std::error::Error::source)).
///
/// Reaches the caller as `reqwest_middleware::Error::Middleware`; get it
/// back with [`RetryFailed::find`].
///
/// ```
/// use brace_reqwest::{GaveUp, RetryFailed};
///
/// let last = reqwest_middleware::Error::middleware(std::fmt::Error);
/// let err = reqwest_middleware::Error::middleware(RetryFailed::new(3, GaveUp::AttemptsExhausted, last));
/// let failed = RetryFailed::find(&err).unwrap();
/// assert_eq!(failed.attempts(), 3);
/// assert!(failed.to_string().starts_with("gave up after 3 attempts"));
/// ```
#[derive(Debug)]
pub struct RetryFailed {
    attempts: u32,
    reason: GaveUp,
    last: reqwest_middleware::Error,
}

impl RetryFailed {
    /// A report of `attempts` attempts that ended, for `reason`, with `last`.
    pub fn new(attempts: u32, reason: GaveUp, last: reqwest_middleware::Error) -> Self {
        RetryFailed {
            attempts,
            reason,
            last,
        }
    }

    /// The `RetryFailed` inside `error`, if there is one.
    pub fn find(error: &reqwest_middleware::Error) -> Option<&RetryFailed> {
        match error {
            reqwest_middleware::Error::Middleware(e) => e.downcast_ref::<RetryFailed>(),
            _ => None,
        }
    }

    /// Attempts sent, the first included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Why no further attempt was made.
    pub fn reason(&self) -> GaveUp {
        self.reason
    }

    /// The last attempt's error.
    pub fn last_error(&self) -> &reqwest_middleware::Error {
        &self.last
    }

    /// The last attempt's error, by value.
    pub fn into_last_error(self) -> reqwest_middleware::Error {
        self.last
    }
}

impl fmt::Display for RetryFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.attempts == 1 { "" } else { "s" };
        write!(
            f,
            "gave up after {} attempt{s}: {}; last error: {}",
            self.attempts, self.reason, self.last
        )
    }
}

impl std::error::Error for RetryFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.last)
    }
}

/// One attempt took longer than the configured per-attempt timeout and was
/// abandoned (its connection dropped). Retryable by default.
///
/// ```
/// use brace_reqwest::AttemptTimedOut;
/// use std::time::Duration;
/// assert_eq!(
///     AttemptTimedOut { after: Duration::from_millis(250) }.to_string(),
///     "the attempt timed out after 250ms",
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptTimedOut {
    /// The per-attempt timeout that expired.
    pub after: Duration,
}

impl fmt::Display for AttemptTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the attempt timed out after {:?}", self.after)
    }
}

impl std::error::Error for AttemptTimedOut {}
