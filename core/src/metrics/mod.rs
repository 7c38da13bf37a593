//! Sliding-window RED metrics (rate, errors, duration) and SLO error
//! budgets: bounded, lock-free, without `std`.
//!
//! | type | what it is |
//! |---|---|
//! | [`Histogram`] | lock-free log-linear histogram, 1% over 1 µs ..= 1 h by default |
//! | [`Window`] | ring of time slots (60 s in 5 by default), each with requests, errors and a histogram |
//! | [`Red`] | `record(latency, outcome)` / `snapshot()`: rate, error rate, p50/p95/p99/p99.9, max |
//! | [`SloTracker`] | error budget over 30 days and multi-window burn-rate alerts |
//! | [`prometheus`] (std) | text exposition of a [`RedSnapshot`] |
//!
//! Memory is fixed when a value is built; recording never takes a lock,
//! never allocates and never does float math; there is no background
//! thread. Time comes from an injected [`Clock`](crate::time::Clock).
//!
//! ```
//! use brace::metrics::{Outcome, Red, WindowConfig};
//! use brace::time::ManualClock;
//! use core::time::Duration;
//! use std::sync::Arc;
//!
//! let clock = ManualClock::new();
//! let red = Arc::new(Red::new(WindowConfig::default(), clock.clone()));
//! clock.advance(Duration::from_secs(1));
//! red.record(Duration::from_millis(12), Outcome::Success);
//! red.record(Duration::from_millis(80), Outcome::Error);
//! let s = red.snapshot();
//! assert_eq!((s.count(), s.errors()), (2, 1));
//! assert_eq!(s.max(), Some(Duration::from_millis(80)));
//! ```

mod divisor;
mod error;
mod histogram;
mod layout;
mod outcome;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod prometheus;
mod red;
mod ring;
mod slo;
mod snapshot;
mod stripe;
mod window;
mod window_config;

pub use error::{ConfigError, LayoutMismatch};
pub use histogram::Histogram;
pub use layout::{HistogramConfig, HistogramConfigBuilder};
pub use outcome::Outcome;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use prometheus::ExportError;
pub use red::{Red, RedSnapshot};
pub use slo::{
    AlertLevel, BurnAlert, BurnReading, GoodEvent, SloConfig, SloConfigBuilder, SloStatus,
    SloTracker,
};
pub use snapshot::HistogramSnapshot;
pub use window::{Window, WindowSnapshot};
pub use window_config::{WindowConfig, WindowConfigBuilder};
