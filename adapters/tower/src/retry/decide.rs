//! Deciding, per finished attempt, whether to retry it.

use brace::retry::Decision;

use crate::CircuitOpen;

/// Decides whether a finished attempt is retried.
///
/// Returns a [`Decision`]: [`Decision::DoNotRetry`] hands the result to the
/// caller as it is (a success, or a permanent error), [`Decision::Retry`]
/// retries after the backoff's next delay, [`Decision::RetryAfter`] after a
/// server-given wait (capped by the policy's `max_retry_after`), and
/// [`Decision::Rejected`] stops because a breaker refused the call.
///
/// Implemented by [`RetryErrors`] (the default) and by every closure
/// `Fn(&Result<Res, E>) -> Decision`. Whatever it says, an error that is a
/// [`CircuitOpen`] is never retried.
///
/// ```
/// use brace::retry::Decision;
/// use brace_tower::retry::DecideRetry;
///
/// // Retry only "busy" answers, after the wait the server asked for.
/// let decide = |r: &Result<(u16, u64), ()>| match r {
///     Ok((429, secs)) => Decision::RetryAfter(std::time::Duration::from_secs(*secs)),
///     Ok(_) => Decision::DoNotRetry,
///     Err(()) => Decision::Retry,
/// };
/// assert_eq!(decide.decide(&Ok((200, 0))), Decision::DoNotRetry);
/// ```
pub trait DecideRetry<Res, E> {
    /// What to do with `result`.
    fn decide(&self, result: &Result<Res, E>) -> Decision;
}

impl<F, Res, E> DecideRetry<Res, E> for F
where
    F: Fn(&Result<Res, E>) -> Decision,
{
    #[inline]
    fn decide(&self, result: &Result<Res, E>) -> Decision {
        self(result)
    }
}

/// The default: an `Ok` is returned, an `Err` is retried, a [`CircuitOpen`]
/// error stops at once.
///
/// ```
/// use brace::breaker::Rejected;
/// use brace::retry::Decision;
/// use brace_tower::retry::{DecideRetry, RetryErrors};
/// use brace_tower::{BoxError, CircuitOpen};
///
/// let open: BoxError = Box::new(CircuitOpen::new(Rejected::ForcedOpen));
/// assert_eq!(RetryErrors.decide(&Err::<(), _>(open)), Decision::Rejected(None));
/// let timeout: BoxError = "timed out".into();
/// assert_eq!(RetryErrors.decide(&Err::<(), _>(timeout)), Decision::Retry);
/// assert_eq!(RetryErrors.decide(&Ok::<_, BoxError>(7)), Decision::DoNotRetry);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryErrors;

impl<Res, E: 'static> DecideRetry<Res, E> for RetryErrors {
    #[inline]
    fn decide(&self, result: &Result<Res, E>) -> Decision {
        match result {
            Ok(_) => Decision::DoNotRetry,
            Err(e) => match CircuitOpen::find_in(e) {
                Some(open) => Decision::Rejected(open.retry_after()),
                None => Decision::Retry,
            },
        }
    }
}
