//! What an open breaker answers instead of calling the service.

use super::CircuitOpen;
use crate::BoxError;

/// Turns a breaker rejection into the service's answer, and the inner
/// service's errors into the layer's error type.
///
/// [`FailFast`] (the default) answers `Err(CircuitOpen)` boxed as a
/// [`BoxError`], tower's convention. With the `http` feature,
/// [`ServiceUnavailable`](crate::circuit_breaker::ServiceUnavailable) answers
/// `Ok(503 Service Unavailable)` with a `Retry-After` header and keeps the
/// inner error type, so it fits axum, whose services must be infallible.
///
/// ```
/// use brace::breaker::Rejected;
/// use brace_tower::circuit_breaker::{FailFast, OnOpen};
/// use brace_tower::CircuitOpen;
///
/// let answer: Result<String, _> =
///     <FailFast as OnOpen<String, std::io::Error>>::open(&FailFast, CircuitOpen::new(Rejected::ForcedOpen));
/// assert!(answer.unwrap_err().is::<CircuitOpen>());
/// ```
pub trait OnOpen<Res, E> {
    /// The error type of the wrapped service.
    type Error;

    /// The answer to a call refused by an open breaker.
    fn open(&self, rejection: CircuitOpen) -> Result<Res, Self::Error>;

    /// Converts an error of the inner service.
    fn inner_error(&self, error: E) -> Self::Error;
}

/// Answers a refused call with `Err(CircuitOpen)`, boxed as a [`BoxError`];
/// inner errors are boxed too.
///
/// ```
/// use brace_tower::circuit_breaker::{FailFast, OnOpen};
/// use brace_tower::{BoxError, CircuitOpen};
///
/// let inner: BoxError = <FailFast as OnOpen<(), &str>>::inner_error(&FailFast, "boom");
/// assert_eq!(inner.to_string(), "boom");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FailFast;

impl<Res, E: Into<BoxError>> OnOpen<Res, E> for FailFast {
    type Error = BoxError;

    #[inline]
    fn open(&self, rejection: CircuitOpen) -> Result<Res, BoxError> {
        Err(Box::new(rejection))
    }

    #[inline]
    fn inner_error(&self, error: E) -> BoxError {
        error.into()
    }
}
