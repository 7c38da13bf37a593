//! Jittered retry with a retry budget: retries that spread out, stop
//! multiplying load, and are never spent against an open breaker.
//!
//! * [`Backoff`] + [`Jitter`]: the waits between attempts (constant, linear,
//!   exponential × none, full, equal, decorrelated jitter), an allocation-free
//!   iterator driven by a seedable [`SplitMix64`].
//! * [`RetryPolicy`]: max attempts, max elapsed time, the cap on
//!   server-requested waits; [`Classify`] / [`Decision`] per error.
//! * [`RetryBudget`]: retries at most `ratio` of recent first attempts plus a
//!   floor, lock-free and striped (Finagle's semantics, exact in integers).
//! * [`Retry`]: the executor, async ([`Retry::run`]) or blocking
//!   ([`Retry::run_blocking`]), on an injected [`Clock`](crate::time::Clock)
//!   and [`Sleeper`](crate::time::Sleeper); stops with a [`RetryError`] that
//!   says why. With [`Retry::breaker`], a call refused by an open
//!   [`CircuitBreaker`](crate::breaker::CircuitBreaker) is never retried and
//!   never spends budget.
//!
//! `cargo run --release --example storm` simulates the retry storm these
//! prevent (A → B → C, C down for 30 s) with these very objects.
//!
//! Everything here works without `std`.
//!
//! ```
//! use brace::retry::{Backoff, Jitter, Retry, RetryPolicy};
//! use brace::time::ManualClock;
//! use core::time::Duration;
//!
//! let clock = ManualClock::new();
//! let backoff = Backoff::exponential(Duration::from_millis(20), 2.0)
//!     .max_delay(Duration::from_secs(1))
//!     .jitter(Jitter::Full)
//!     .build()
//!     .unwrap();
//! let policy = RetryPolicy::builder(backoff).max_attempts(4).build().unwrap();
//! let out: Result<u32, _> = Retry::new(&policy, &clock, &clock)
//!     .run_blocking(|attempt| if attempt < 4 { Err("flaky") } else { Ok(attempt) });
//! assert_eq!(out, Ok(4));
//! ```

mod backoff;
mod budget;
mod control;
mod error;
mod executor;
mod policy;
mod rng;

pub use backoff::{Backoff, BackoffBuilder, Delays, Jitter};
pub use budget::{RetryBudget, RetryBudgetBuilder, SCALE, Withdrawal};
pub use error::{ConfigError, RetryError, StopReason};
#[cfg(feature = "std")]
pub use executor::ThreadSleep;
pub use executor::{BlockingSleep, Retry};
pub use policy::{Classify, Decision, RetryAll, RetryPolicy, RetryPolicyBuilder};
pub use rng::{RandomSource, SplitMix64};
