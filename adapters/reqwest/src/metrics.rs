//! [`MetricsMiddleware`]: a RED window (rate, errors, duration) per host.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use brace::metrics::{Outcome, Red, RedSnapshot, WindowConfig};
use brace::time::Clock;
use brace_tokio::TokioClock;
use http::Extensions;
use parking_lot::RwLock;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};

use crate::host::host_key;

/// Per-host RED recorders, shared by a [`MetricsMiddleware`] and whoever
/// reads the figures.
///
/// # Thread safety
///
/// `Send + Sync`. Recording into a known host takes one read lock (to find
/// its recorder) and then no lock at all; a new host takes a write lock once.
///
/// ```
/// use brace::metrics::WindowConfig;
/// use brace_reqwest::HostMetrics;
///
/// let metrics = HostMetrics::new(WindowConfig::default());
/// assert!(metrics.snapshot("api:443").is_none());
/// assert!(metrics.hosts().is_empty());
/// ```
pub struct HostMetrics {
    config: WindowConfig,
    hosts: RwLock<HashMap<String, Arc<Red<TokioClock>>>>,
}

impl HostMetrics {
    /// An empty set; each host gets a window built from `config` on first
    /// use.
    pub fn new(config: WindowConfig) -> Self {
        HostMetrics {
            config,
            hosts: RwLock::new(HashMap::new()),
        }
    }

    /// `host`'s recorder, created if there is none.
    pub fn recorder(&self, host: &str) -> Arc<Red<TokioClock>> {
        if let Some(red) = self.hosts.read().get(host) {
            return Arc::clone(red);
        }
        let mut hosts = self.hosts.write();
        Arc::clone(
            hosts
                .entry(host.to_owned())
                .or_insert_with(|| Arc::new(Red::new(self.config, TokioClock::new()))),
        )
    }

    /// The current window of `host` (`host:port`), if it has seen a request.
    pub fn snapshot(&self, host: &str) -> Option<RedSnapshot> {
        self.hosts.read().get(host).map(|red| red.snapshot())
    }

    /// Every host seen, sorted.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.hosts.read().keys().cloned().collect();
        hosts.sort();
        hosts
    }
}

impl fmt::Debug for HostMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostMetrics")
            .field("config", &self.config)
            .field("hosts", &self.hosts.read().len())
            .finish()
    }
}

/// Decides whether one exchange counts as an error.
pub type MetricsClassifier = dyn Fn(&Result<Response>) -> Outcome + Send + Sync;

/// The default: errors and 5xx responses are errors; every other response
/// is a success.
///
/// ```
/// use brace::metrics::Outcome;
/// use brace_reqwest::server_errors_count;
///
/// let r: reqwest_middleware::Result<reqwest::Response> =
///     Ok(http::Response::builder().status(404).body("").unwrap().into());
/// assert_eq!(server_errors_count(&r), Outcome::Success);
/// ```
pub fn server_errors_count(result: &Result<Response>) -> Outcome {
    match result {
        Ok(response) if !response.status().is_server_error() => Outcome::Success,
        _ => Outcome::Error,
    }
}

/// A reqwest middleware recording every request's latency (to the response
/// head) and outcome into its host's RED window.
///
/// Where it sits decides what it counts: outermost (added first) it sees
/// what callers see, one entry per request, retries included in the
/// latency; innermost (added last) it sees each attempt that went out.
///
/// # Cancellation
///
/// A request dropped before it finishes is not recorded.
///
/// # Clone
///
/// Clones share the [`HostMetrics`].
///
/// ```
/// use brace::metrics::WindowConfig;
/// use brace_reqwest::MetricsMiddleware;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let metrics = MetricsMiddleware::new(WindowConfig::default());
/// let figures = metrics.metrics().clone();
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(metrics)
///     .build();
/// let _ = client.get("http://127.0.0.1:9/").send().await; // refused: an error
/// let s = figures.snapshot("127.0.0.1:9").unwrap();
/// assert_eq!((s.count(), s.errors()), (1, 1));
/// # }
/// ```
#[derive(Clone)]
pub struct MetricsMiddleware {
    metrics: Arc<HostMetrics>,
    classify: Arc<MetricsClassifier>,
}

impl MetricsMiddleware {
    /// Per-host windows built from `config`.
    pub fn new(config: WindowConfig) -> Self {
        Self::with_metrics(Arc::new(HostMetrics::new(config)))
    }

    /// Records into existing `metrics`.
    pub fn with_metrics(metrics: Arc<HostMetrics>) -> Self {
        MetricsMiddleware {
            metrics,
            classify: Arc::new(server_errors_count),
        }
    }

    /// Replaces the classifier ([`server_errors_count`] by default).
    pub fn classify(
        mut self,
        classify: impl Fn(&Result<Response>) -> Outcome + Send + Sync + 'static,
    ) -> Self {
        self.classify = Arc::new(classify);
        self
    }

    /// The figures, to read snapshots from.
    pub fn metrics(&self) -> &Arc<HostMetrics> {
        &self.metrics
    }
}

impl fmt::Debug for MetricsMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsMiddleware")
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Middleware for MetricsMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let red = self.metrics.recorder(&host_key(req.url()));
        let started = red.clock().now();
        let result = next.run(req, extensions).await;
        let now = red.clock().now();
        red.record_at(
            now,
            now.saturating_sub(started).as_duration(),
            (self.classify)(&result),
        );
        result
    }
}
