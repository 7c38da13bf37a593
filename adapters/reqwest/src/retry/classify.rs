//! What the retry middleware retries by default.

use brace::retry::Decision;
use http::{Method, StatusCode};
use reqwest::Response;
use reqwest_middleware::{Error, Result};

use super::report::AttemptTimedOut;
use crate::CircuitOpen;

/// Decides, per attempt, whether its result is final or worth retrying.
///
/// Return [`Decision::DoNotRetry`] for a final result (success included),
/// [`Decision::Retry`] to retry after the backoff (a valid `Retry-After`
/// header on the response then takes its place), [`Decision::RetryAfter`]
/// to pick the wait yourself, [`Decision::Rejected`] to stop without
/// retrying or spending budget.
pub type RetryClassifier = dyn Fn(&Result<Response>) -> Decision + Send + Sync;

/// The default retry classifier.
///
/// * Responses 429, 502, 503 and 504 are retried; every other response is
///   final.
/// * Transport errors are retried when the request may not have been
///   processed: connect errors, timeouts, and a connection closed or reset
///   before a response (reqwest's `is_request`), as well as an
///   [`AttemptTimedOut`].
/// * A [`CircuitOpen`] stops at once ([`Decision::Rejected`]).
/// * Any other error is final.
///
/// ```
/// use brace::retry::Decision;
/// use brace_reqwest::retry_transient;
///
/// let ok: reqwest_middleware::Result<reqwest::Response> =
///     Ok(http::Response::builder().status(503).body("").unwrap().into());
/// assert_eq!(retry_transient(&ok), Decision::Retry);
/// let ok: reqwest_middleware::Result<reqwest::Response> =
///     Ok(http::Response::builder().status(500).body("").unwrap().into());
/// assert_eq!(retry_transient(&ok), Decision::DoNotRetry);
/// ```
pub fn retry_transient(result: &Result<Response>) -> Decision {
    match result {
        Ok(response) => match response.status() {
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Decision::Retry,
            _ => Decision::DoNotRetry,
        },
        Err(Error::Reqwest(e)) if e.is_connect() || e.is_timeout() || e.is_request() => {
            Decision::Retry
        }
        Err(Error::Middleware(e)) => {
            if let Some(open) = e.downcast_ref::<CircuitOpen>() {
                Decision::Rejected(open.retry_after)
            } else if e.downcast_ref::<AttemptTimedOut>().is_some() {
                Decision::Retry
            } else {
                Decision::DoNotRetry
            }
        }
        Err(_) => Decision::DoNotRetry,
    }
}

/// The methods retried by default: the idempotent ones of RFC 9110 §9.2.2
/// (GET, HEAD, OPTIONS, PUT, DELETE, TRACE).
///
/// ```
/// use brace_reqwest::is_idempotent;
/// assert!(is_idempotent(&http::Method::PUT));
/// assert!(!is_idempotent(&http::Method::POST));
/// ```
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}
