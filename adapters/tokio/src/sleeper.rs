//! A brace [`Sleeper`] on tokio's timer.

use brace::time::Sleeper;
use core::time::Duration;
use tokio::time::Sleep;

/// A [`Sleeper`] whose sleeps are [`tokio::time::Sleep`] futures.
///
/// Under paused time a sleep completes when `tokio::time::advance` moves
/// past its deadline, or at once when the runtime auto-advances because every
/// task is idle (`start_paused = true`).
///
/// # Panics
///
/// Creating a sleep (calling [`sleep`](Sleeper::sleep)) outside a tokio
/// runtime with the time driver enabled panics: tokio registers the timer
/// when the sleep is made, not when it is first polled (tokio's rule, not
/// brace's). brace's retry executor makes each sleep inside its own
/// future, so awaiting that future in a runtime is enough.
///
/// # Cancellation
///
/// Dropping a sleep cancels its timer entry; nothing else is held.
///
/// ```
/// use brace::time::Sleeper;
/// use brace_tokio::TokioSleeper;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// TokioSleeper.sleep(Duration::from_secs(5)).await;
/// assert_eq!(start.elapsed(), Duration::from_secs(5));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    type Sleep = Sleep;

    #[inline]
    fn sleep(&self, duration: Duration) -> Sleep {
        tokio::time::sleep(duration)
    }
}
