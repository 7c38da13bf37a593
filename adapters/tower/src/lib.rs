//! # brace-tower
//!
//! tower middleware over brace's primitives:
//!
//! | layer | what it does |
//! |---|---|
//! | [`CircuitBreakerLayer`] | fails fast with [`CircuitOpen`] while a dependency is down; one shared breaker or one per key |
//! | [`RetryLayer`] | retries with jittered backoff, drawing on a [`RetryBudget`](brace::retry::RetryBudget) shared by every clone |
//! | [`MetricsLayer`] | records every call's latency and outcome in a brace RED window (and an SLO tracker) |
//!
//! Each keeps tower's `poll_ready`/`call` contract exactly: nothing is
//! reserved in `poll_ready` (permits are taken in `call`), the service
//! readied is the one called, clones start unreadied, and an open breaker
//! never makes `poll_ready` fail.
//!
//! ```
//! use brace::breaker::{CircuitBreaker, Config};
//! use brace::metrics::{Red, WindowConfig};
//! use brace::retry::{Backoff, RetryBudget, RetryPolicy};
//! use brace_tokio::TokioClock;
//! use brace_tower::{CircuitBreakerLayer, MetricsLayer, RetryLayer, ServiceBuilderExt};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let clock = TokioClock::new();
//! let breaker = Arc::new(CircuitBreaker::new(
//!     Config::builder().failure_rate(0.5).build()?,
//!     clock,
//! ));
//! let policy = RetryPolicy::builder(Backoff::exponential(Duration::from_millis(10), 2.0).build()?)
//!     .max_attempts(3)
//!     .build()?;
//! let budget = Arc::new(RetryBudget::builder().build(clock)?);
//! let metrics = MetricsLayer::new(Arc::new(Red::new(WindowConfig::default(), clock)));
//! let red = metrics.recorder().clone(); // read snapshots from here
//!
//! let mut svc = ServiceBuilder::new()
//!     .brace_stack(
//!         metrics,
//!         RetryLayer::new(policy).budget(budget),
//!         CircuitBreakerLayer::new(breaker.clone()),
//!     )
//!     .timeout(Duration::from_secs(2))
//!     .service_fn(|name: &'static str| async move { Ok::<_, std::io::Error>(name.len()) });
//!
//! let n = svc.ready().await?.call("hello").await?;
//! assert_eq!(n, 5);
//! # Ok(())
//! # }
//! ```
//!
//! # Order
//!
//! Outermost first:
//!
//! ```text
//! metrics → [total timeout] → retry → breaker → per-attempt timeout → service
//! ```
//!
//! * **metrics outermost** records what the caller lived through: one sample
//!   per request, its latency including every retry and backoff wait, its
//!   outcome after retries. (Add a second [`MetricsLayer`] inside the retry
//!   layer to watch the dependency attempt by attempt.)
//! * **retry outside the breaker**: every attempt asks the breaker first, so
//!   a breaker that opens while a request is retrying stops it at the next
//!   attempt with [`CircuitOpen`], which is never retried, and a request
//!   refused on its first attempt deposits nothing into the retry budget
//!   (and a retry the breaker refused gets its withdrawal back: the retry
//!   layer pays before its backoff and refunds a retry that did not reach
//!   the dependency); and the breaker counts attempts, which is
//!   what the dependency actually served. With the breaker outside, one
//!   open circuit would just fail the whole request, and the breaker would
//!   count a request that succeeded on its third attempt as one success,
//!   hiding two failures.
//! * **the per-attempt timeout inside the breaker**: a timeout then reaches
//!   the breaker as an error, a failure — slow, hanging calls are the very
//!   signature of a dead dependency. With the timeout outside, the breaker's
//!   future is dropped on timeout, its permit is released as *cancelled*,
//!   and timeouts never count.
//! * **an optional total timeout between metrics and retry** bounds the whole
//!   request, waits included; the per-attempt one keeps one hung attempt
//!   from eating the total budget.
//!
//! [`ServiceBuilderExt::brace_stack`] adds metrics, retry and breaker in this
//! order; add the timeouts with tower's `timeout` where shown.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

mod builder;
pub mod circuit_breaker;
mod classify;
pub mod metrics;
pub mod retry;

pub use builder::ServiceBuilderExt;
pub use circuit_breaker::{CircuitBreakerLayer, CircuitOpen};
pub use classify::{Classify, ErrorsAreFailures, Outcome};
pub use metrics::MetricsLayer;
pub use retry::RetryLayer;

/// A boxed error, as tower middleware returns them (`tower::BoxError`).
pub use tower::BoxError;
