//! A tower middleware that runs every call through a brace circuit breaker.
//!
//! * [`CircuitBreakerLayer`] / [`CircuitBreaker`]: the layer and its service;
//! * [`SharedBreaker`] (one breaker for every request) and [`KeyedBreakers`]
//!   (one per key: host, route, tenant) choose the breaker;
//! * [`CircuitOpen`] is the fail-fast error, [`OnOpen`] decides how it is
//!   answered ([`FailFast`], or a 503 with the `http` feature).
//!
//! # The tower contract, kept
//!
//! * An open breaker never makes `poll_ready` return `Err` (terminal in
//!   tower): `poll_ready` says ready and `call` fails fast with
//!   [`CircuitOpen`].
//! * A caller parked on the inner service's readiness (a full
//!   `ConcurrencyLimit` or `Buffer`) is woken when the breaker opens, by a
//!   trip or by `force_open`, as well as by the inner service: its next
//!   `poll_ready` asks the breaker again, says ready, and `call` fails
//!   fast, without waiting for the inner service. Only while the inner
//!   service is pending does the service register its task with the
//!   breaker ([`OpenWait`]); the registration is dropped when the inner
//!   service turns ready, and with the service. With
//!   [`KeyedBreakers`] the breaker is known only from the request, so a
//!   parked caller learns of an opening when the inner service wakes it.
//! * Nothing is reserved in `poll_ready`: the permit is taken in `call`, so a
//!   caller that readies the service and never calls (an idle keep-alive
//!   connection) holds no half-open slot and no concurrency.
//! * `call` calls the very inner service that `poll_ready` readied; it never
//!   swaps in an unreadied clone.
//! * `Clone` gives a service that must be readied again.

mod error;
mod future;
mod keyed;
mod layer;
mod reject;
mod shared;
mod source;

#[cfg(feature = "http")]
mod http;

use core::task::{Context, Poll};

use brace::breaker::OpenWait;
use tower_service::Service;

pub use error::CircuitOpen;
pub use future::ResponseFuture;
pub use keyed::KeyedBreakers;
pub use layer::CircuitBreakerLayer;
pub use reject::{FailFast, OnOpen};
pub use shared::{SharedBreaker, TimedPermit};
pub use source::{RecordOutcome, SelectBreaker};

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use http::{ServerErrorsAreFailures, ServiceUnavailable};

use crate::{Classify, ErrorsAreFailures};

/// A service that asks a circuit breaker before each call and reports each
/// call's outcome to it.
///
/// Made by [`CircuitBreakerLayer`]. See the [module docs](self) for how it
/// keeps tower's `poll_ready`/`call` contract.
///
/// # Errors
///
/// With [`FailFast`] the error type is [`BoxError`](crate::BoxError): a
/// refused call fails with a boxed [`CircuitOpen`]; inner errors are boxed
/// as they are.
///
/// # Clone
///
/// Clones share the breaker. A clone starts unreadied: call `poll_ready` on
/// it before `call`, as on any tower service.
///
/// # Thread safety
///
/// `Send`/`Sync` when the inner service, the breaker source, the classifier
/// and the rejection policy are. Taking a permit on a closed breaker takes no
/// lock.
///
/// ```
/// use brace::breaker::{CircuitBreaker as Breaker, Config};
/// use brace_tokio::TokioClock;
/// use brace_tower::CircuitBreakerLayer;
/// use brace_tower::circuit_breaker::{CircuitBreaker, SharedBreaker};
/// use std::sync::Arc;
/// use tower::{Layer, Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let breaker = Arc::new(Breaker::new(Config::default(), TokioClock::new()));
/// let inner = tower::service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x + 1) });
/// let svc: CircuitBreaker<_, SharedBreaker<TokioClock>> =
///     CircuitBreakerLayer::new(breaker).layer(inner);
/// let mut other = svc.clone(); // shares the breaker, starts unreadied
/// assert_eq!(other.ready().await.unwrap().call(1).await.unwrap(), 2);
/// # }
/// ```
#[derive(Debug)]
pub struct CircuitBreaker<S, B, C = ErrorsAreFailures, O = FailFast> {
    inner: S,
    breakers: B,
    classifier: C,
    on_open: O,
    /// Set when `poll_ready` saw the breaker refusing everything and said
    /// ready without readying `inner`; the next `call` fails fast with it.
    fail_fast: Option<CircuitOpen>,
    /// Where the task parked on `inner`'s readiness waits for the breaker
    /// to open too; taken on the first `Pending`, kept until dropped.
    open_wait: Option<OpenWait>,
}

impl<S, B, C, O> CircuitBreaker<S, B, C, O> {
    pub(crate) fn from_parts(inner: S, breakers: B, classifier: C, on_open: O) -> Self {
        CircuitBreaker {
            inner,
            breakers,
            classifier,
            on_open,
            fail_fast: None,
            open_wait: None,
        }
    }

    /// The breaker source, to read state or use manual controls.
    pub fn breakers(&self) -> &B {
        &self.breakers
    }

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

impl<S: Clone, B: Clone, C: Clone, O: Clone> Clone for CircuitBreaker<S, B, C, O> {
    /// A clone that shares the breaker and starts unreadied.
    fn clone(&self) -> Self {
        CircuitBreaker::from_parts(
            self.inner.clone(),
            self.breakers.clone(),
            self.classifier.clone(),
            self.on_open.clone(),
        )
    }
}

impl<S, B, C, O> CircuitBreaker<S, B, C, O> {
    fn ready_to_fail_fast<E>(&mut self, open: CircuitOpen) -> Poll<Result<(), E>> {
        self.fail_fast = Some(open);
        self.stop_waiting_for_open();
        Poll::Ready(Ok(()))
    }

    /// Drops the waker registered while `inner` was pending (no lock if
    /// none was).
    fn stop_waiting_for_open(&mut self) {
        if let Some(wait) = &mut self.open_wait {
            wait.cancel();
        }
    }
}

impl<S, Req, B, C, O> Service<Req> for CircuitBreaker<S, B, C, O>
where
    S: Service<Req>,
    B: SelectBreaker<Req>,
    C: Classify<S::Response, S::Error> + Clone,
    O: OnOpen<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = O::Error;
    type Future = ResponseFuture<S::Future, B::Permit, C, O>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Asked afresh on every poll: a fail-fast answer readied earlier is
        // dropped once the breaker admits again (reset, or its open time
        // over: this call may be the probe), and a refusal's `retry_after`
        // stays current. A `call` with no poll in between still gets the
        // answer readied for it.
        if let Some(open) = self.breakers.rejects_every_request() {
            return self.ready_to_fail_fast(open);
        }
        self.fail_fast = None;
        match self.inner.poll_ready(cx) {
            Poll::Pending => {
                // Parked on `inner`: be woken when the breaker opens too,
                // then read it again, in case it opened since the first
                // read (its wake-up would have found nothing registered).
                self.breakers
                    .wake_when_rejecting(&mut self.open_wait, cx.waker());
                match self.breakers.rejects_every_request() {
                    Some(open) => self.ready_to_fail_fast(open),
                    None => Poll::Pending,
                }
            }
            Poll::Ready(ready) => {
                self.stop_waiting_for_open();
                Poll::Ready(ready.map_err(|e| self.on_open.inner_error(e)))
            }
        }
    }

    fn call(&mut self, request: Req) -> Self::Future {
        if let Some(open) = self.fail_fast.take() {
            // `inner` was not readied: refuse without touching it.
            return ResponseFuture::rejected(open, self.on_open.clone());
        }
        match self.breakers.try_acquire(&request) {
            Ok(permit) => ResponseFuture::called(
                self.inner.call(request),
                permit,
                self.classifier.clone(),
                self.on_open.clone(),
            ),
            Err(open) => ResponseFuture::rejected(open, self.on_open.clone()),
        }
    }
}
