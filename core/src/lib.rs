//! # brace
//!
//! Resilience primitives for the calls a service makes to things that fail:
//! databases, caches, other services. The core is runtime-agnostic and builds
//! without `std` (only `alloc`); time is always injected through
//! [`time::Clock`] and [`time::Sleeper`], so every primitive can be driven
//! deterministically in tests.
//!
//! | module | primitive | needs `std` |
//! |---|---|---|
//! | [`time`] | `Clock`, `Sleeper`, `SystemClock`, `ManualClock` | `SystemClock` only |
//! | `singleflight` | `Group`: one in-flight load per key, hand-off, panic isolation | yes |
//! | `cache` | `Cache`: TTL, capacity, invalidation, stale-while-revalidate | yes |
//! | [`breaker`] | `CircuitBreaker`: closed / open / half-open, count or time window | no |
//! | [`retry`] | `Backoff`, `RetryPolicy`, `RetryBudget`, `Retry` executor | `ThreadSleep` only |
//! | [`metrics`] | `Histogram`, `Window`, `Red`, `SloTracker`, Prometheus export | export only |
//! | `loader` | `BatchLoader`: one batch per tick, dedup, cancellation-correct | yes |
//!
//! ```
//! use brace::time::{Clock, ManualClock};
//! use core::time::Duration;
//!
//! let clock = ManualClock::new();
//! clock.advance(Duration::from_millis(5));
//! assert_eq!(clock.now().as_duration(), Duration::from_millis(5));
//! ```
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
// Unsafe code is refused everywhere but `sync::read_mostly` (a striped
// reader-writer lock; its protocol and every `SAFETY` note are there, and
// Miri runs its tests in `.ci/run`).
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod breaker;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod cache;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod loader;
pub mod metrics;
pub mod retry;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod singleflight;
pub(crate) mod sync;
pub mod time;
#[cfg(feature = "std")]
pub(crate) mod wake;
