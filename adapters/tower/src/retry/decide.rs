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
///
/// Behind a breaker built with
/// [`http`](crate::CircuitBreakerLayer::http), a refusal is a 503 response
/// that carries the [`CircuitOpen`] in its extensions; answering
/// [`Decision::Rejected`] for it stops the request and keeps the refusal
/// out of the retry budget (no deposit, and a refused retry's withdrawal
/// is refunded):
///
/// ```
/// use brace::breaker::Rejected;
/// use brace::retry::Decision;
/// use brace_tower::retry::DecideRetry;
/// use brace_tower::CircuitOpen;
///
/// let decide = |r: &Result<http::Response<()>, std::convert::Infallible>| match r {
///     Ok(response) => match response.extensions().get::<CircuitOpen>() {
///         Some(open) => Decision::Rejected(open.retry_after()),
///         None if response.status().is_server_error() => Decision::Retry,
///         None => Decision::DoNotRetry,
///     },
///     Err(never) => match *never {},
/// };
/// let mut refused = http::Response::new(());
/// *refused.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
/// refused.extensions_mut().insert(CircuitOpen::new(Rejected::ForcedOpen));
/// assert_eq!(decide.decide(&Ok(refused)), Decision::Rejected(None));
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
