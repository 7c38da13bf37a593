//! Where the breaker for a request comes from: one shared breaker, or one
//! per key from a registry.

use super::CircuitOpen;
use crate::Outcome;

/// Chooses the breaker for a request and asks it for a permit.
///
/// Implemented for [`SharedBreaker`](super::SharedBreaker) (every request through one breaker) and
/// [`KeyedBreakers`](super::KeyedBreakers) (one breaker per key, from a
/// [`BreakerRegistry`](brace::breaker::registry::BreakerRegistry)). Implement
/// it yourself to put some other admission decision behind the layer.
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
    /// inner service is not ready. A caller already parked on the inner
    /// service's readiness is not woken when the breaker opens: it learns
    /// of it when the inner service wakes it (a freed slot) and it polls
    /// again. Sources that cannot tell without the request (keyed ones)
    /// return `None`.
    fn rejects_every_request(&self) -> Option<CircuitOpen> {
        None
    }
}

/// A permit that records how its call ended.
///
/// Dropping it without recording frees its slot and counts nothing (the
/// call was cancelled).
pub trait RecordOutcome {
    /// Records the call's outcome, consuming the permit.
    fn record(self, outcome: Outcome);
}
