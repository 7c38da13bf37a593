//! # brace-reqwest
//!
//! [reqwest-middleware] over brace's primitives:
//!
//! | middleware | what it does |
//! |---|---|
//! | [`BreakerMiddleware`] | one circuit breaker per host; fails fast with [`CircuitOpen`] while that host is down |
//! | [`RetryMiddleware`] | retries transient failures of idempotent requests, honouring `Retry-After`, under a shared retry budget, with a per-attempt timeout |
//! | [`MetricsMiddleware`] | records each request into a RED window (rate, errors, p50/p95/p99) per host |
//!
//! Order them retry → breaker (→ metrics, to count attempts) so every
//! attempt asks the breaker and an open breaker stops the retries:
//!
//! ```
//! use brace::breaker::Config;
//! use brace::metrics::WindowConfig;
//! use brace::retry::{Backoff, RetryBudget, RetryPolicy};
//! use brace_reqwest::{BreakerMiddleware, MetricsMiddleware, RetryMiddleware, RetryOutcome};
//! use brace_tokio::TokioClock;
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = RetryPolicy::builder(Backoff::exponential(Duration::from_millis(50), 2.0).build()?)
//!     .max_attempts(3)
//!     .build()?;
//! let budget = Arc::new(RetryBudget::builder().build(TokioClock::new())?);
//! let metrics = MetricsMiddleware::new(WindowConfig::default());
//! let per_host = metrics.metrics().clone();
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(RetryMiddleware::builder(policy).budget(budget).build()?)
//!     .with(BreakerMiddleware::new(Config::builder().failure_rate(0.5).build()?)?)
//!     .with(metrics)
//!     .build();
//!
//! // Nothing listens on 127.0.0.1:9: three attempts, each a connect error.
//! let err = client.get("http://127.0.0.1:9/").send().await.unwrap_err();
//! assert_eq!(brace_reqwest::RetryFailed::find(&err).unwrap().attempts(), 3);
//! assert_eq!(per_host.snapshot("127.0.0.1:9").unwrap().errors(), 3);
//! # Ok(()) }
//! ```
//!
//! reqwest is used with `default-features = false` (no TLS): enable
//! reqwest's `rustls` or `native-tls` feature in your own crate for HTTPS.
//!
//! [reqwest-middleware]: https://docs.rs/reqwest-middleware
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod breaker;
mod host;
mod metrics;
mod retry;
mod retry_after;

pub use breaker::{BreakerClassifier, BreakerMiddleware, CircuitOpen, server_errors_fail};
pub use host::host_key;
pub use metrics::{HostMetrics, MetricsClassifier, MetricsMiddleware, server_errors_count};
pub use retry::{
    AttemptTimedOut, ConfigError, GaveUp, RetryClassifier, RetryFailed, RetryMiddleware,
    RetryMiddlewareBuilder, RetryOutcome, is_idempotent, retry_transient,
};
pub use retry_after::{parse_retry_after, retry_after_header};
