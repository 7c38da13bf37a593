//! Observing the breaker: transition events and snapshots.

use alloc::sync::Arc;

use super::State;
use crate::time::Nanos;

/// The shared transition callback stored in a [`Config`](super::Config).
pub(crate) type Listener = Arc<dyn Fn(Transition) + Send + Sync>;

/// One change of state, passed to the listener set with
/// [`ConfigBuilder::on_transition`](super::ConfigBuilder::on_transition).
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config, State, Transition};
/// use brace::time::ManualClock;
/// use std::sync::{Arc, Mutex};
///
/// let seen: Arc<Mutex<Vec<Transition>>> = Arc::default();
/// let log = Arc::clone(&seen);
/// let config = Config::builder()
///     .consecutive_failures(1)
///     .on_transition(move |t| log.lock().unwrap().push(t))
///     .build()?;
/// let breaker = CircuitBreaker::new(config, ManualClock::new());
/// breaker.try_acquire().unwrap().record_failure();
/// let t = seen.lock().unwrap()[0];
/// assert_eq!((t.from, t.to), (State::Closed, State::Open));
/// # Ok::<(), brace::breaker::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// When, on the breaker's clock.
    pub at: Nanos,
    /// The generation of the state entered.
    pub generation: u32,
}

/// A point-in-time view of a breaker for dashboards and logs.
///
/// The fields are read one after another without stopping other threads,
/// so under concurrent use they may be a few calls apart.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config, State};
/// use brace::time::ManualClock;
///
/// let breaker = CircuitBreaker::new(Config::default(), ManualClock::new());
/// breaker.try_acquire().unwrap().record_success();
/// breaker.try_acquire().unwrap().record_failure();
/// let s = breaker.snapshot();
/// assert_eq!(s.state, State::Closed);
/// assert_eq!((s.calls, s.failures), (2, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// Current state.
    pub state: State,
    /// Current generation (grows by one per transition).
    pub generation: u32,
    /// Consecutive trips to open since the breaker last closed.
    pub trips: u32,
    /// Calls in the closed-state window (0 without a rate policy).
    pub calls: u64,
    /// Failed calls in the window.
    pub failures: u64,
    /// Slow calls in the window.
    pub slow_calls: u64,
    /// Failures in a row (for the consecutive-failures policy).
    pub consecutive_failures: u32,
    /// Half-open probes admitted and not yet reported.
    pub probes_in_flight: u32,
    /// Half-open probes that succeeded.
    pub probes_passed: u32,
    /// When open: the instant a probe will be admitted. When half-open: the
    /// instant unfinished probes are given up on.
    pub deadline: Option<Nanos>,
}
