//! [`MetricsMiddleware`]: a RED window (rate, errors, duration) per host.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
/// # Bounds
///
/// At most [`capacity`](Self::capacity) hosts are kept (1,024 with
/// [`new`](Self::new)): a client that follows links or calls per-tenant
/// subdomains meets an open-ended set of hosts, and each window holds its
/// own histograms. When a new host arrives at a full set, the host used
/// least recently goes, with its figures. Recency is a ticket from one
/// shared counter, taken by a use unless its host holds the latest ticket
/// already (an atomic add per request only while several hosts
/// interleave, which an HTTP exchange dwarfs); finding the oldest ticket
/// scans the set, under the write lock, once per new host at a full set.
///
/// A request still holding a dropped host's recorder finishes recording
/// into it; that figure is lost with the rest of the window. The host gets
/// a new, empty window on its next request.
///
/// # Thread safety
///
/// `Send + Sync`. Recording into a known host takes one read lock (to find
/// its recorder) and then no lock at all; a new host takes a write lock once.
///
/// ```
/// use std::num::NonZeroUsize;
///
/// use brace::metrics::WindowConfig;
/// use brace_reqwest::HostMetrics;
///
/// let metrics = HostMetrics::with_capacity(WindowConfig::default(), NonZeroUsize::new(2).unwrap());
/// metrics.recorder("a:443");
/// metrics.recorder("b:443");
/// metrics.recorder("a:443"); // used again: b is now the least recent
/// metrics.recorder("c:443");
/// assert_eq!(metrics.hosts(), ["a:443", "c:443"]);
/// assert!(metrics.snapshot("b:443").is_none());
/// ```
pub struct HostMetrics {
    config: WindowConfig,
    capacity: NonZeroUsize,
    hosts: RwLock<HashMap<String, HostEntry>>,
    /// Uses so far: each use's ticket is the next value.
    uses: AtomicU64,
}

/// One host's recorder and the ticket of its last use.
struct HostEntry {
    red: Arc<Red<TokioClock>>,
    last_used: AtomicU64,
}

/// Hosts kept by [`HostMetrics::new`].
const DEFAULT_CAPACITY: NonZeroUsize = NonZeroUsize::new(1024).expect("nonzero");

impl HostMetrics {
    /// An empty set of at most 1,024 hosts; each host gets a window built
    /// from `config` on first use.
    pub fn new(config: WindowConfig) -> Self {
        Self::with_capacity(config, DEFAULT_CAPACITY)
    }

    /// An empty set of at most `hosts` hosts (see [Bounds](Self#bounds)).
    pub fn with_capacity(config: WindowConfig, hosts: NonZeroUsize) -> Self {
        HostMetrics {
            config,
            capacity: hosts,
            hosts: RwLock::new(HashMap::new()),
            uses: AtomicU64::new(0),
        }
    }

    /// `host`'s recorder, created if there is none (dropping the least
    /// recently used host if the set is full).
    pub fn recorder(&self, host: &str) -> Arc<Red<TokioClock>> {
        if let Some(entry) = self.hosts.read().get(host) {
            self.touch(entry);
            return Arc::clone(&entry.red);
        }
        let mut hosts = self.hosts.write();
        if let Some(entry) = hosts.get(host) {
            // Created by a racing request between the two locks.
            self.touch(entry);
            return Arc::clone(&entry.red);
        }
        if hosts.len() >= self.capacity.get() {
            let least_recent = hosts
                .iter()
                .min_by_key(|(_, entry)| entry.last_used.load(Ordering::Relaxed))
                .map(|(name, _)| name.clone());
            if let Some(name) = least_recent {
                hosts.remove(&name);
            }
        }
        let red = Arc::new(Red::new(self.config, TokioClock::new()));
        hosts.insert(
            host.to_owned(),
            HostEntry {
                red: Arc::clone(&red),
                last_used: AtomicU64::new(self.ticket()),
            },
        );
        red
    }

    /// Marks `entry` used now: a new ticket, unless it holds the latest
    /// one already (a host used again and again, with no other host in
    /// between, writes nothing shared).
    fn touch(&self, entry: &HostEntry) {
        if entry.last_used.load(Ordering::Relaxed) + 1 != self.uses.load(Ordering::Relaxed) {
            entry.last_used.store(self.ticket(), Ordering::Relaxed);
        }
    }

    /// The next use's ticket. Two racing uses of one host may store their
    /// tickets out of order; the host then looks one use older than it is.
    fn ticket(&self) -> u64 {
        self.uses.fetch_add(1, Ordering::Relaxed)
    }

    /// The current window of `host` (`host:port`), if it is kept.
    pub fn snapshot(&self, host: &str) -> Option<RedSnapshot> {
        self.hosts
            .read()
            .get(host)
            .map(|entry| entry.red.snapshot())
    }

    /// Drops `host` and its figures; `false` if it was not kept.
    pub fn remove(&self, host: &str) -> bool {
        self.hosts.write().remove(host).is_some()
    }

    /// Every host kept, sorted.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.hosts.read().keys().cloned().collect();
        hosts.sort();
        hosts
    }

    /// How many hosts are kept.
    pub fn len(&self) -> usize {
        self.hosts.read().len()
    }

    /// Whether no host is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most hosts kept at once.
    pub fn capacity(&self) -> usize {
        self.capacity.get()
    }
}

impl fmt::Debug for HostMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostMetrics")
            .field("config", &self.config)
            .field("hosts", &self.len())
            .field("capacity", &self.capacity)
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
