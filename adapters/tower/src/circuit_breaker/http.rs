//! HTTP flavour: an open breaker answers `503 Service Unavailable` with
//! `Retry-After`, and 5xx responses count as failures.

use http::{HeaderValue, Response, StatusCode, header::RETRY_AFTER};

use super::{CircuitOpen, OnOpen};
use crate::{Classify, Outcome};

/// Answers a refused call with `Ok(503 Service Unavailable)`, a
/// `Retry-After` header in whole seconds (rounded up; absent when the
/// breaker was forced open) and an empty (`Default`) body. Inner errors pass
/// through unchanged, so an infallible service stays infallible — what axum
/// requires of the services it routes to.
///
/// ```
/// use brace::breaker::Rejected;
/// use brace_tower::circuit_breaker::{OnOpen, ServiceUnavailable};
/// use brace_tower::CircuitOpen;
/// use std::convert::Infallible;
/// use std::time::Duration;
///
/// let response: http::Response<String> =
///     <ServiceUnavailable as OnOpen<_, Infallible>>::open(
///         &ServiceUnavailable,
///         CircuitOpen::new(Rejected::ProbesInFlight { retry_after: Duration::from_millis(2500) }),
///     )
///     .unwrap();
/// assert_eq!(response.status(), 503);
/// assert_eq!(response.headers()["retry-after"], "3");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceUnavailable;

impl<B: Default, E> OnOpen<Response<B>, E> for ServiceUnavailable {
    type Error = E;

    fn open(&self, rejection: CircuitOpen) -> Result<Response<B>, E> {
        let mut response = Response::new(B::default());
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        if let Some(secs) = rejection.retry_after_secs() {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        // The rejection itself rides along for middleware further out.
        response.extensions_mut().insert(rejection);
        Ok(response)
    }

    #[inline]
    fn inner_error(&self, error: E) -> E {
        error
    }
}

/// HTTP classifier: a 5xx response or an `Err` is a failure, anything else
/// (4xx included: the client's fault, not the dependency's) a success.
///
/// ```
/// use brace_tower::circuit_breaker::ServerErrorsAreFailures;
/// use brace_tower::{Classify, Outcome};
///
/// let ok = http::Response::builder().status(404).body(()).unwrap();
/// let bad = http::Response::builder().status(502).body(()).unwrap();
/// let c = ServerErrorsAreFailures;
/// assert_eq!(c.classify(&Ok::<_, ()>(ok)), Outcome::Success);
/// assert_eq!(c.classify(&Ok::<_, ()>(bad)), Outcome::Failure);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerErrorsAreFailures;

impl<B, E> Classify<Response<B>, E> for ServerErrorsAreFailures {
    fn classify(&self, result: &Result<Response<B>, E>) -> Outcome {
        match result {
            Ok(r) if r.status().is_server_error() => Outcome::Failure,
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }
}
