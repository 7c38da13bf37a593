//! One breaker for every request.

use core::task::Waker;
use std::sync::Arc;

use brace::breaker::{CircuitBreaker, OpenWait, OwnedPermit};
use brace::time::{Clock, Timer};

use super::{CircuitOpen, RecordOutcome, SelectBreaker};
use crate::Outcome;

/// Every request goes through one shared [`CircuitBreaker`].
///
/// Keep a clone of the `Arc` to read the breaker's state or to
/// `force_open`/`reset` it while it guards the service — even when the
/// service is boxed away in a stack.
///
/// # Clone
///
/// Clones share the breaker.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config, State};
/// use brace::time::ManualClock;
/// use brace_tower::circuit_breaker::{SelectBreaker, SharedBreaker};
/// use std::sync::Arc;
///
/// let breaker = Arc::new(CircuitBreaker::new(Config::default(), ManualClock::new()));
/// let shared = SharedBreaker::new(breaker.clone());
/// breaker.force_open();
/// let open = SelectBreaker::<()>::try_acquire(&shared, &()).unwrap_err();
/// assert_eq!(open.retry_after(), None);
/// assert_eq!(shared.breaker().state(), State::ForcedOpen);
/// ```
#[derive(Debug)]
pub struct SharedBreaker<C: Clock> {
    breaker: Arc<CircuitBreaker<C>>,
}

impl<C: Clock> SharedBreaker<C> {
    /// Shares `breaker` between every request.
    pub fn new(breaker: Arc<CircuitBreaker<C>>) -> Self {
        SharedBreaker { breaker }
    }

    /// The breaker.
    pub fn breaker(&self) -> &Arc<CircuitBreaker<C>> {
        &self.breaker
    }
}

impl<C: Clock> Clone for SharedBreaker<C> {
    fn clone(&self) -> Self {
        SharedBreaker {
            breaker: Arc::clone(&self.breaker),
        }
    }
}

impl<C: Clock + Clone, Req> SelectBreaker<Req> for SharedBreaker<C> {
    type Permit = TimedPermit<C>;

    #[inline]
    fn try_acquire(&self, _request: &Req) -> Result<TimedPermit<C>, CircuitOpen> {
        TimedPermit::acquire(&self.breaker)
    }

    #[inline]
    fn rejects_every_request(&self) -> Option<CircuitOpen> {
        open_now(&self.breaker)
    }

    fn wake_when_rejecting(&self, wait: &mut Option<OpenWait>, waker: &Waker) {
        wait.get_or_insert_with(|| self.breaker.open_wait())
            .register(waker);
    }
}

/// `Some` if `breaker` would refuse a call now, read without taking a
/// permit: forced open, or open with its deadline still ahead
/// ([`CircuitBreaker::refusal`], which reads the deadline together with
/// the state).
pub(super) fn open_now<C: Clock>(breaker: &CircuitBreaker<C>) -> Option<CircuitOpen> {
    breaker.refusal().map(CircuitOpen::new)
}

/// A breaker's [`OwnedPermit`] with the time its call started, so the
/// outcome is recorded with the call's duration, measured on the breaker's
/// own clock. Calls are timed only when the breaker has a slow-call policy:
/// otherwise the clock is not read at all.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config, Outcome};
/// use brace::time::ManualClock;
/// use brace_tower::circuit_breaker::{RecordOutcome, TimedPermit};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let config = Config::builder()
///     .slow_call_rate(0.5, Duration::from_secs(1))
///     .minimum_calls(1)
///     .build()?;
/// let breaker = Arc::new(CircuitBreaker::new(config, clock.clone()));
/// let permit = TimedPermit::acquire(&breaker).unwrap();
/// clock.advance(Duration::from_secs(2));
/// permit.record(Outcome::Success);
/// assert_eq!(breaker.snapshot().slow_calls, 1);
/// # Ok::<(), brace::breaker::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct TimedPermit<C: Clock> {
    permit: OwnedPermit<C>,
    /// The clock and the start of the call, when the call is timed.
    timer: Option<(C, Timer)>,
}

impl<C: Clock + Clone> TimedPermit<C> {
    /// A permit from `breaker`, its call starting now.
    ///
    /// # Errors
    ///
    /// [`CircuitOpen`] when the breaker refuses the call.
    #[inline]
    pub fn acquire(breaker: &Arc<CircuitBreaker<C>>) -> Result<Self, CircuitOpen> {
        let permit = breaker.try_acquire_owned().map_err(CircuitOpen::new)?;
        let timer = breaker.config().slow_call_threshold().map(|_| {
            let clock = breaker.clock().clone();
            let started = clock.start_timer();
            (clock, started)
        });
        Ok(TimedPermit { permit, timer })
    }
}

impl<C: Clock> RecordOutcome for TimedPermit<C> {
    #[inline]
    fn record(self, outcome: Outcome) {
        let elapsed = self
            .timer
            .map(|(clock, started)| clock.elapsed(started).as_duration());
        self.permit.record(outcome, elapsed);
    }
}
