//! # brace-tokio
//!
//! Runs brace on tokio's time. [`TokioClock`] reads [`tokio::time::Instant`]
//! and [`TokioSleeper`] sleeps with [`tokio::time::sleep`], so a test under
//! `#[tokio::test(start_paused = true)]` (or after `tokio::time::pause`)
//! drives every brace primitive — the breaker's open duration, retry backoff,
//! cache TTLs — with `tokio::time::advance` instead of waiting.
//! [`spawn_hook`] hands background work (the cache's refresh) to the current
//! runtime, since the brace core never spawns.
//!
//! ```
//! use brace::time::{Clock, Sleeper};
//! use brace_tokio::{TokioClock, TokioSleeper};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let clock = TokioClock::new();
//! let start = clock.now();
//! TokioSleeper.sleep(Duration::from_secs(30)).await; // instant under paused time
//! assert_eq!(clock.now().saturating_sub(start).as_duration(), Duration::from_secs(30));
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

mod clock;
mod sleeper;
mod spawn;

pub use clock::TokioClock;
pub use sleeper::TokioSleeper;
pub use spawn::{BoxedTask, spawn_hook, spawn_hook_on};
