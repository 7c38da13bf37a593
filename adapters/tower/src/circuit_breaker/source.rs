//! Where the breaker for a request comes from: one shared breaker, or one
//! per key from a registry.

use core::task::Waker;

use brace::breaker::OpenWait;

use super::CircuitOpen;
use crate::Outcome;

/// Chooses the breaker for a request and asks it for a permit.
///
/// Implemented for [`SharedBreaker`](super::SharedBreaker) (every request through one breaker) and
/// [`KeyedBreakers`](super::KeyedBreakers) (one breaker per key, from a
/// [`BreakerRegistry`](brace::breaker::registry::BreakerRegistry)). Implement
/// it yourself to put some other admission decision behind the layer.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config};
/// use brace_tokio::TokioClock;
/// use brace_tower::Outcome;
/// use brace_tower::circuit_breaker::{RecordOutcome, SelectBreaker, SharedBreaker};
/// use std::sync::Arc;
///
/// let breaker = Arc::new(CircuitBreaker::new(Config::default(), TokioClock::new()));
/// let source = SharedBreaker::new(breaker.clone());
/// // What the layer does around each call:
/// let permit = SelectBreaker::<&str>::try_acquire(&source, &"GET /").unwrap();
/// permit.record(Outcome::Success);
/// breaker.force_open();
/// assert!(SelectBreaker::<&str>::rejects_every_request(&source).is_some());
/// ```
pub trait SelectBreaker<Req> {
    /// Proof of admission; the call's outcome is recorded on it.
    type Permit: RecordOutcome;

    /// Asks the request's breaker for a permit, or says why not.
    ///
    /// # Errors
    ///
    /// [`CircuitOpen`] when the breaker refuses the call.
    fn try_acquire(&self, request: &Req) -> Result<Self::Permit, CircuitOpen>;

    /// `Some` if every request would be refused right now, without reserving
    /// anything. The service checks it in `poll_ready`, so a caller that
    /// polls readiness while the breaker is open fails fast even if the
    /// inner service is not ready. Sources that cannot tell without the
    /// request (keyed ones) return `None`.
    fn rejects_every_request(&self) -> Option<CircuitOpen> {
        None
    }

    /// Arranges for `waker` to be woken when
    /// [`rejects_every_request`](Self::rejects_every_request) may have turned
    /// `Some` (the breaker opened). The service calls it when the inner
    /// service's readiness is `Pending`, then asks `rejects_every_request`
    /// again, so a caller parked on the inner service fails fast once the
    /// breaker opens. `wait` is the service's registration, kept between
    /// polls and dropped with the service.
    ///
    /// The default registers nothing: right for sources whose
    /// `rejects_every_request` is always `None`. Implement both or neither.
    fn wake_when_rejecting(&self, wait: &mut Option<OpenWait>, waker: &Waker) {
        let _ = (wait, waker);
    }
}

/// A permit that records how its call ended.
///
/// Dropping it without recording frees its slot and counts nothing (the
/// call was cancelled).
///
/// ```
/// use brace_tower::Outcome;
/// use brace_tower::circuit_breaker::RecordOutcome;
/// use std::cell::Cell;
///
/// /// A permit that only remembers the outcome (a test double, say).
/// struct Noted<'a>(&'a Cell<Option<Outcome>>);
/// impl RecordOutcome for Noted<'_> {
///     fn record(self, outcome: Outcome) {
///         self.0.set(Some(outcome));
///     }
/// }
///
/// let seen = Cell::new(None);
/// Noted(&seen).record(Outcome::Failure);
/// assert_eq!(seen.get(), Some(Outcome::Failure));
/// ```
pub trait RecordOutcome {
    /// Records the call's outcome, consuming the permit.
    fn record(self, outcome: Outcome);
}
