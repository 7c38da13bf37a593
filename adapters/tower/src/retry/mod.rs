//! A tower middleware that retries failed calls under a brace
//! [`RetryPolicy`](brace::retry::RetryPolicy), spending from a shared
//! [`RetryBudget`](brace::retry::RetryBudget).
//!
//! # Requests must be `Clone`
//!
//! Each attempt sends its own copy of the request, cloned before the call.
//! Keep requests cheap to clone: an `http::Request<Bytes>`, or a type whose
//! payload is in an `Arc`. A streaming body cannot be replayed: collect it
//! first (for axum, `axum::body::to_bytes` into `Request<Bytes>`, done by a
//! `map_request` layer outside this one), or place the retry layer where
//! requests are still cloneable values (around a client call built from an
//! owned, cloneable description of the request).
//!
//! # What is never retried
//!
//! A [`CircuitOpen`](crate::CircuitOpen) error (a breaker refused the call):
//! retrying would only spend budget against a dependency known to be down.
//! A readiness error of the inner service ends the call with that error.

mod decide;
mod future;
mod layer;

use core::task::{Context, Poll};

use tower_service::Service;

pub use decide::{DecideRetry, RetryErrors};
pub use future::ResponseFuture;
pub use layer::RetryLayer;

use brace::time::{Clock, Sleeper};
use brace_tokio::{TokioClock, TokioSleeper};

/// A service that retries failed calls; made by [`RetryLayer`].
///
/// # Errors
///
/// The inner service's error type, unchanged: when retrying stops, the last
/// attempt's result is returned as it was.
///
/// # Clone
///
/// Clones share the retry budget and start unreadied.
///
/// # Cancellation
///
/// Dropping the response future stops retrying: an attempt in flight is
/// dropped, a pending wait is cancelled.
///
/// # Thread safety
///
/// `Send`/`Sync` when the inner service, request, classifier, clock and
/// sleeper are; the budget is lock-free.
///
/// ```
/// use brace::retry::{Backoff, RetryPolicy};
/// use brace_tower::RetryLayer;
/// use brace_tower::retry::Retry;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use tower::{Layer, Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let policy = RetryPolicy::builder(Backoff::none()).max_attempts(3).build().unwrap();
/// let calls = Arc::new(AtomicU32::new(0));
/// let seen = calls.clone();
/// // Fails once, then answers.
/// let flaky = tower::service_fn(move |x: u32| {
///     let n = seen.fetch_add(1, Ordering::SeqCst);
///     async move { if n == 0 { Err("down") } else { Ok(x) } }
/// });
/// let mut svc: Retry<_> = RetryLayer::new(policy).layer(flaky);
/// assert_eq!(svc.ready().await.unwrap().call(7).await, Ok(7));
/// assert_eq!(calls.load(Ordering::SeqCst), 2);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Retry<S, D = RetryErrors, Clk = TokioClock, Slp = TokioSleeper> {
    inner: S,
    config: std::sync::Arc<RetryLayer<D, Clk, Slp>>,
}

impl<S, D, Clk, Slp> Retry<S, D, Clk, Slp> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req, D, Clk, Slp> Service<Req> for Retry<S, D, Clk, Slp>
where
    S: Service<Req> + Clone,
    Req: Clone,
    D: DecideRetry<S::Response, S::Error>,
    S::Error: 'static,
    Clk: Clock,
    Slp: Sleeper,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, Req, D, Clk, Slp>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // The readied service makes the first attempt; the future keeps it
        // (and readies it again before each retry). `self` keeps a fresh,
        // unreadied clone.
        let fresh = self.inner.clone();
        let mut readied = core::mem::replace(&mut self.inner, fresh);
        // The budget deposit waits for the first attempt's result: one the
        // breaker refused never reached the dependency and earns nothing.
        let first = readied.call(request.clone());
        ResponseFuture::new(first, readied, request, &self.config)
    }
}
