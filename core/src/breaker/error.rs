//! Why a call was not admitted.

use core::fmt;
use core::time::Duration;

use crate::time::Nanos;

/// A call the breaker refused; it tells the caller when to come back.
///
/// Rejections are cheap values (no allocation) and are returned, never
/// panicked.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config, Rejected};
/// use brace::time::{ManualClock, Nanos};
/// use core::time::Duration;
///
/// let config = Config::builder()
///     .consecutive_failures(1)
///     .open_duration(Duration::from_secs(5))
///     .build()?;
/// let clock = ManualClock::new();
/// let breaker = CircuitBreaker::new(config, clock.clone());
/// breaker.try_acquire().unwrap().record_failure();
/// clock.advance(Duration::from_secs(2));
/// let rejected = breaker.try_acquire().unwrap_err();
/// assert_eq!(rejected, Rejected::OpenUntil {
///     until: Nanos::from_duration(Duration::from_secs(5)),
///     retry_after: Duration::from_secs(3),
/// });
/// assert_eq!(rejected.retry_after(), Some(Duration::from_secs(3)));
/// assert_eq!(rejected.to_string(), "circuit breaker is open; a probe is admitted in 3s");
/// # Ok::<(), brace::breaker::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejected {
    /// Open: the first probe is admitted at `until`, `retry_after` from now.
    OpenUntil {
        /// The instant (on the breaker's clock) a probe will be admitted.
        until: Nanos,
        /// How long from the moment of rejection until then.
        retry_after: Duration,
    },
    /// Half-open and every probe slot is taken. The probes report, or are
    /// given up on, at the latest `retry_after` from now.
    ProbesInFlight {
        /// Upper bound on the wait for a free slot or a new state.
        retry_after: Duration,
    },
    /// Opened by hand; stays open until someone calls
    /// [`reset`](super::CircuitBreaker::reset).
    ForcedOpen,
}

impl Rejected {
    /// How long to wait before trying again, if the breaker knows: `None`
    /// when forced open (only an operator can close it).
    pub fn retry_after(&self) -> Option<Duration> {
        match *self {
            Rejected::OpenUntil { retry_after, .. } | Rejected::ProbesInFlight { retry_after } => {
                Some(retry_after)
            }
            Rejected::ForcedOpen => None,
        }
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::OpenUntil { retry_after, .. } => write!(
                f,
                "circuit breaker is open; a probe is admitted in {retry_after:?}"
            ),
            Rejected::ProbesInFlight { retry_after } => write!(
                f,
                "circuit breaker is half-open and all probes are in flight; retry within {retry_after:?}"
            ),
            Rejected::ForcedOpen => f.write_str("circuit breaker was forced open"),
        }
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::error::Error for Rejected {}
