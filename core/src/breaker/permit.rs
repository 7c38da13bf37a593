//! Permits: the right to make one call, and the duty to report how it went.

use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use super::CircuitBreaker;
use crate::time::{Clock, Nanos};

/// How a call went, as far as the breaker is concerned.
///
/// ```
/// use brace::breaker::Outcome;
///
/// fn classify(status: u16) -> Outcome {
///     match status {
///         500..=599 => Outcome::Failure,
///         404 => Outcome::Ignored, // the dependency is fine, the key is not
///         _ => Outcome::Success,
///     }
/// }
/// assert_eq!(classify(503), Outcome::Failure);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The dependency answered well.
    Success,
    /// The dependency failed; counts toward tripping.
    Failure,
    /// Counts as nothing (for example a cancelled call or a client error);
    /// a half-open probe slot is freed.
    Ignored,
}

/// What kind of call a permit admitted, and in which generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) generation: u32,
    pub(crate) role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Closed,
    Probe,
    Disabled,
}

macro_rules! permit_methods {
    () => {
        /// Reports a successful call.
        #[inline(always)]
        pub fn record_success(self) {
            self.finish(Outcome::Success, None);
        }

        /// Reports a failed call.
        pub fn record_failure(self) {
            self.finish(Outcome::Failure, None);
        }

        /// Reports a call that must count as nothing (frees a half-open
        /// probe slot, like dropping the permit).
        pub fn record_ignored(self) {
            self.finish(Outcome::Ignored, None);
        }

        /// Reports a successful call that took `elapsed`; counts as slow if
        /// a slow-call policy is set and `elapsed` reaches its threshold.
        pub fn record_success_after(self, elapsed: Duration) {
            self.finish(Outcome::Success, Some(Nanos::from_duration(elapsed)));
        }

        /// Reports a failed call that took `elapsed`.
        pub fn record_failure_after(self, elapsed: Duration) {
            self.finish(Outcome::Failure, Some(Nanos::from_duration(elapsed)));
        }

        /// Reports `outcome`, with the call's duration if known.
        pub fn record(self, outcome: Outcome, elapsed: Option<Duration>) {
            self.finish(outcome, elapsed.map(Nanos::from_duration));
        }

        /// The breaker generation this permit was issued in. Outcomes are
        /// dropped if the breaker has changed state since.
        pub fn generation(&self) -> u32 {
            self.ticket.generation
        }

        /// Whether this permit is a half-open probe.
        pub fn is_probe(&self) -> bool {
            self.ticket.role == Role::Probe
        }

        // Always inlined: the closed-state record is a handful of
        // instructions, and a call frame here doubled its cost.
        #[inline(always)]
        fn finish(mut self, outcome: Outcome, elapsed: Option<Nanos>) {
            self.reported = true;
            self.breaker.on_outcome(self.ticket, outcome, elapsed);
        }
    };
}

/// Permission to make one call, borrowed from a [`CircuitBreaker`].
///
/// Report the outcome with one of the `record_*` methods. Dropping the
/// permit unreported (a cancelled call) frees its half-open slot and counts
/// as neither success nor failure.
///
/// # Thread safety
///
/// `Send` and `Sync`: a permit may be reported from another thread.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config};
/// use brace::time::ManualClock;
/// use core::time::Duration;
///
/// let breaker = CircuitBreaker::new(Config::default(), ManualClock::new());
/// let permit = breaker.try_acquire().expect("closed");
/// // ... make the call ...
/// permit.record_success_after(Duration::from_millis(12));
/// assert_eq!(breaker.snapshot().calls, 1);
/// ```
#[must_use = "a permit reports nothing unless a record_* method is called"]
pub struct Permit<'a, C: Clock> {
    pub(crate) breaker: &'a CircuitBreaker<C>,
    pub(crate) ticket: Ticket,
    pub(crate) reported: bool,
}

impl<C: Clock> Permit<'_, C> {
    permit_methods!();
}

impl<C: Clock> Drop for Permit<'_, C> {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.on_outcome(self.ticket, Outcome::Ignored, None);
        }
    }
}

impl<C: Clock> fmt::Debug for Permit<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("ticket", &self.ticket)
            .finish()
    }
}

/// A [`Permit`] that owns an `Arc` of its breaker, so it can live in a
/// `'static` future or move to another task.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config, OwnedPermit};
/// use brace::time::ManualClock;
/// use std::sync::Arc;
///
/// let breaker = Arc::new(CircuitBreaker::new(Config::default(), ManualClock::new()));
/// let permit: OwnedPermit<ManualClock> = breaker.try_acquire_owned().unwrap();
/// std::thread::spawn(move || permit.record_failure()).join().unwrap();
/// assert_eq!(breaker.snapshot().failures, 1);
/// ```
#[must_use = "a permit reports nothing unless a record_* method is called"]
pub struct OwnedPermit<C: Clock> {
    pub(crate) breaker: Arc<CircuitBreaker<C>>,
    pub(crate) ticket: Ticket,
    pub(crate) reported: bool,
}

impl<C: Clock> OwnedPermit<C> {
    permit_methods!();
}

impl<C: Clock> Drop for OwnedPermit<C> {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.on_outcome(self.ticket, Outcome::Ignored, None);
        }
    }
}

impl<C: Clock> fmt::Debug for OwnedPermit<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("ticket", &self.ticket)
            .finish()
    }
}
