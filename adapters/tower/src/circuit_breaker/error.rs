//! The error an open breaker fails fast with.

use core::fmt;
use core::time::Duration;

use brace::breaker::Rejected;

/// The call was refused because its circuit breaker is open.
///
/// The inner service was not called. [`CircuitOpen::retry_after`] says how
/// long until the breaker admits a probe again: when it is open, the time
/// left of its open duration; when it is half-open with every probe slot
/// taken, an upper bound (the time left before the probes in flight are
/// given up on, so a slot may free sooner); `None` when it was forced open
/// by an operator and stays open until reset.
///
/// The layer's error type is [`BoxError`](crate::BoxError); recover this
/// value with `downcast_ref`:
///
/// ```
/// use brace::breaker::Rejected;
/// use brace_tower::{BoxError, CircuitOpen};
/// use std::time::Duration;
///
/// let err: BoxError = Box::new(CircuitOpen::new(Rejected::ProbesInFlight { retry_after: Duration::from_secs(3) }));
/// let open = err.downcast_ref::<CircuitOpen>().expect("a breaker rejection");
/// assert_eq!(open.retry_after(), Some(Duration::from_secs(3)));
/// assert_eq!(
///     err.to_string(),
///     "circuit breaker is half-open and all probes are in flight; retry within 3s"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitOpen {
    rejected: Rejected,
}

impl CircuitOpen {
    /// The error for a breaker's rejection.
    pub const fn new(rejected: Rejected) -> Self {
        CircuitOpen { rejected }
    }

    /// The breaker's own account of the rejection.
    pub const fn rejected(&self) -> Rejected {
        self.rejected
    }

    /// How long until the breaker admits a probe; `None` if it was forced
    /// open and only a reset closes it.
    pub fn retry_after(&self) -> Option<Duration> {
        self.rejected.retry_after()
    }

    /// `retry_after` in whole seconds, rounded up, as an HTTP `Retry-After`
    /// header wants it; `None` when no time is known.
    ///
    /// ```
    /// use brace::breaker::Rejected;
    /// use brace_tower::CircuitOpen;
    /// use std::time::Duration;
    ///
    /// assert_eq!(CircuitOpen::new(Rejected::ProbesInFlight { retry_after: Duration::from_millis(1200) }).retry_after_secs(), Some(2));
    /// assert_eq!(CircuitOpen::new(Rejected::ProbesInFlight { retry_after: Duration::ZERO }).retry_after_secs(), Some(0));
    /// assert_eq!(CircuitOpen::new(Rejected::ForcedOpen).retry_after_secs(), None);
    /// // The longest wait saturates rather than overflowing.
    /// assert_eq!(CircuitOpen::new(Rejected::ProbesInFlight { retry_after: Duration::MAX }).retry_after_secs(), Some(u64::MAX));
    /// ```
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after()
            .map(|d| d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0)))
    }

    /// Whether `error` is, or wraps at its top level, a [`CircuitOpen`].
    ///
    /// Works for a `CircuitOpen` itself and for a [`BoxError`](crate::BoxError)
    /// holding one, which is how it travels through tower stacks. The retry
    /// layer uses this to never retry a breaker rejection.
    ///
    /// ```
    /// use brace::breaker::Rejected;
    /// use brace_tower::{BoxError, CircuitOpen};
    ///
    /// let boxed: BoxError = Box::new(CircuitOpen::new(Rejected::ForcedOpen));
    /// assert!(CircuitOpen::is_in(&boxed));
    /// let other: BoxError = "timeout".into();
    /// assert!(!CircuitOpen::is_in(&other));
    /// assert!(!CircuitOpen::is_in(&std::io::Error::other("x")));
    /// ```
    pub fn is_in<E: 'static>(error: &E) -> bool {
        Self::find_in(error).is_some()
    }

    /// The [`CircuitOpen`] in `error`, if it is one or a boxed one.
    ///
    /// ```
    /// use brace::breaker::Rejected;
    /// use brace_tower::{BoxError, CircuitOpen};
    ///
    /// let boxed: BoxError = Box::new(CircuitOpen::new(Rejected::ForcedOpen));
    /// assert_eq!(CircuitOpen::find_in(&boxed), Some(&CircuitOpen::new(Rejected::ForcedOpen)));
    /// ```
    pub fn find_in<E: 'static>(error: &E) -> Option<&CircuitOpen> {
        let any = error as &dyn core::any::Any;
        if let Some(open) = any.downcast_ref::<CircuitOpen>() {
            return Some(open);
        }
        if let Some(boxed) = any.downcast_ref::<crate::BoxError>() {
            return boxed.downcast_ref::<CircuitOpen>();
        }
        None
    }
}

impl From<Rejected> for CircuitOpen {
    fn from(rejected: Rejected) -> Self {
        CircuitOpen::new(rejected)
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.rejected, f)
    }
}

impl std::error::Error for CircuitOpen {}
