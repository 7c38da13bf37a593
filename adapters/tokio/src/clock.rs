//! A brace [`Clock`] on tokio's clock.

use brace::time::{Clock, Nanos};
use tokio::time::Instant;

/// A [`Clock`] reading [`tokio::time::Instant`].
///
/// Readings are nanoseconds since the clock was created. Because tokio's
/// `Instant::now` follows the runtime's test clock, the reading stands still
/// while time is paused (`tokio::time::pause`, `start_paused = true`) and
/// jumps by exactly the amount given to `tokio::time::advance`. Outside a
/// paused runtime it is the operating system's monotonic clock.
///
/// Read a clock in the runtime it was created in. Tokio's `Instant::now`
/// follows the clock of the context it is called from, so a `TokioClock`
/// created in a paused runtime and read from another runtime, or from a
/// plain thread, reads another time line: after an hour of `advance` in
/// the paused runtime, a reading from a plain thread gives milliseconds.
/// A breaker read on both would see time go back, and an open deadline
/// set on one line would lie far ahead on the other. Give each runtime
/// (each `#[tokio::test]`) its own clock and the breakers built on it.
///
/// # Clone
///
/// A clone keeps the same origin, so clones give equal readings.
///
/// # Thread safety
///
/// `Copy`, `Send` and `Sync`; reading it takes no lock.
///
/// ```
/// use brace::time::Clock;
/// use brace_tokio::TokioClock;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let clock = TokioClock::new();
/// let before = clock.now();
/// tokio::time::advance(Duration::from_millis(1500)).await;
/// assert_eq!(clock.now().saturating_sub(before).as_duration(), Duration::from_millis(1500));
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: Instant,
}

impl TokioClock {
    /// A clock whose origin is tokio's "now".
    pub fn new() -> Self {
        TokioClock {
            origin: Instant::now(),
        }
    }

    /// The tokio instant that a brace reading stands for: the inverse of
    /// [`Clock::now`], for code that hands brace's deadlines to tokio.
    ///
    /// ```
    /// use brace::time::Clock;
    /// use brace_tokio::TokioClock;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let clock = TokioClock::new();
    /// let now = clock.now();
    /// assert_eq!(clock.instant_at(now), tokio::time::Instant::now());
    /// # }
    /// ```
    pub fn instant_at(&self, reading: Nanos) -> Instant {
        self.origin + reading.as_duration()
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    #[inline]
    fn now(&self) -> Nanos {
        Nanos::from_duration(Instant::now().saturating_duration_since(self.origin))
    }
}
