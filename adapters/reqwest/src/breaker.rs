//! [`BreakerMiddleware`]: one circuit breaker per host, failing fast with
//! [`CircuitOpen`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use brace::breaker::registry::BreakerRegistry;
use brace::breaker::{Outcome, Rejected};
use brace::time::{Clock, Sleeper};
use brace_tokio::{TokioClock, TokioSleeper};
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};

use crate::AttemptTimedOut;
use crate::host::host_key;

/// A request refused by an open circuit breaker, without touching the
/// network.
///
/// It reaches the caller as `reqwest_middleware::Error::Middleware`; get it
/// back with [`CircuitOpen::find`] (or `anyhow::Error::downcast_ref`).
/// [`RetryMiddleware`](crate::RetryMiddleware) never retries it.
///
/// ```
/// use brace_reqwest::CircuitOpen;
/// use std::time::Duration;
///
/// let open = CircuitOpen { host: "api:80".into(), retry_after: Some(Duration::from_secs(3)) };
/// let err = reqwest_middleware::Error::middleware(open.clone());
/// assert_eq!(CircuitOpen::find(&err), Some(&open));
/// assert_eq!(open.to_string(), "circuit breaker for api:80 is open; retry in 3s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitOpen {
    /// The `host:port` whose breaker refused the request.
    pub host: String,
    /// When the breaker admits a probe again; `None` when forced open.
    pub retry_after: Option<Duration>,
}

impl CircuitOpen {
    /// The `CircuitOpen` inside `error`, if the request was refused by a
    /// breaker (also when it is wrapped by the retry middleware's
    /// [`RetryFailed`](crate::RetryFailed)).
    pub fn find(error: &reqwest_middleware::Error) -> Option<&CircuitOpen> {
        match error {
            reqwest_middleware::Error::Middleware(e) => {
                e.downcast_ref::<CircuitOpen>().or_else(|| {
                    e.downcast_ref::<crate::RetryFailed>()
                        .and_then(|r| CircuitOpen::find(r.last_error()))
                })
            }
            _ => None,
        }
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.retry_after {
            Some(wait) => write!(
                f,
                "circuit breaker for {} is open; retry in {wait:?}",
                self.host
            ),
            None => write!(f, "circuit breaker for {} is forced open", self.host),
        }
    }
}

impl std::error::Error for CircuitOpen {}

/// Decides what one exchange tells the breaker.
pub type BreakerClassifier = dyn Fn(&Result<Response>) -> Outcome + Send + Sync;

/// The default breaker classifier: 5xx responses and transport errors are
/// failures; every other response is a success (a 404 says the server is
/// up); errors raised by other middleware are ignored.
///
/// ```
/// use brace::breaker::Outcome;
/// use brace_reqwest::server_errors_fail;
///
/// let err: reqwest_middleware::Result<reqwest::Response> =
///     Err(reqwest_middleware::Error::middleware(std::fmt::Error));
/// assert_eq!(server_errors_fail(&err), Outcome::Ignored);
/// ```
pub fn server_errors_fail(result: &Result<Response>) -> Outcome {
    match result {
        Ok(response) if response.status().is_server_error() => Outcome::Failure,
        Ok(_) => Outcome::Success,
        Err(reqwest_middleware::Error::Reqwest(_)) => Outcome::Failure,
        Err(_) => Outcome::Ignored,
    }
}

/// A reqwest middleware with one [`CircuitBreaker`](brace::breaker::CircuitBreaker)
/// per host (`host:port`), kept in a bounded [`BreakerRegistry`].
///
/// A request to a host whose breaker is open fails at once with
/// [`CircuitOpen`]; otherwise it is sent and its outcome (classified by
/// [`server_errors_fail`] unless [`classify`](Self::classify) says otherwise)
/// and duration are reported to that host's breaker.
///
/// Put it *inside* the retry middleware (added after it on the builder) so
/// each attempt asks the breaker.
///
/// # Cancellation
///
/// Dropping the request future mid-flight reports nothing (the permit is
/// released as "ignored").
///
/// # Clone
///
/// Clones share the registry.
///
/// ```
/// use brace::breaker::{Config, State};
/// use brace_reqwest::BreakerMiddleware;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let breakers = BreakerMiddleware::new(
///     Config::builder().consecutive_failures(5).open_duration(Duration::from_secs(10)).build()?,
/// )?;
/// let registry = breakers.registry().clone(); // watch or steer per-host breakers
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(breakers)
///     .build();
/// registry.force_open("127.0.0.1:9");
/// let err = client.get("http://127.0.0.1:9/").send().await.unwrap_err();
/// assert!(brace_reqwest::CircuitOpen::find(&err).is_some());
/// assert_eq!(registry.state("127.0.0.1:9"), Some(State::ForcedOpen));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct BreakerMiddleware {
    registry: Arc<BreakerRegistry<String, TokioClock>>,
    classify: Arc<BreakerClassifier>,
    call_timeout: Option<Duration>,
}

impl BreakerMiddleware {
    /// Per-host breakers built from `config` on tokio's clock, at most
    /// 10,000 hosts (idle ones evicted first).
    ///
    /// # Errors
    ///
    /// Never with these defaults; the type is shared with
    /// [`with_registry`](Self::with_registry)'s builder.
    pub fn new(
        config: brace::breaker::Config,
    ) -> std::result::Result<Self, brace::breaker::registry::RegistryConfigError> {
        let registry = BreakerRegistry::builder(config).build(TokioClock::new())?;
        Ok(Self::with_registry(Arc::new(registry)))
    }

    /// Uses an existing registry (shared with other clients, say).
    pub fn with_registry(registry: Arc<BreakerRegistry<String, TokioClock>>) -> Self {
        BreakerMiddleware {
            registry,
            classify: Arc::new(server_errors_fail),
            call_timeout: None,
        }
    }

    /// Abandons a call with no response head after `timeout` and reports it
    /// to the breaker as a failure (without this, a call dropped by an
    /// outer timeout reports nothing). The caller gets
    /// [`AttemptTimedOut`], which the retry
    /// middleware retries by default. A zero `timeout` means none.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = (!timeout.is_zero()).then_some(timeout);
        self
    }

    /// Replaces the classifier ([`server_errors_fail`] by default).
    pub fn classify(
        mut self,
        classify: impl Fn(&Result<Response>) -> Outcome + Send + Sync + 'static,
    ) -> Self {
        self.classify = Arc::new(classify);
        self
    }

    /// The per-host registry: states, snapshots, `force_open`, `reset`.
    pub fn registry(&self) -> &Arc<BreakerRegistry<String, TokioClock>> {
        &self.registry
    }
}

impl fmt::Debug for BreakerMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerMiddleware")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Middleware for BreakerMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let host = host_key(req.url());
        let permit = match self.registry.try_acquire(host.as_str()) {
            Ok(permit) => permit,
            Err(rejected) => {
                return Err(reqwest_middleware::Error::middleware(CircuitOpen {
                    host,
                    retry_after: retry_after_of(rejected),
                }));
            }
        };
        let clock = TokioClock::new();
        let timer = clock.start_timer();
        let result = match self.call_timeout {
            None => next.run(req, extensions).await,
            Some(after) => {
                tokio::select! {
                    result = next.run(req, extensions) => result,
                    () = TokioSleeper.sleep(after) => {
                        let elapsed = clock.elapsed(timer).as_duration();
                        permit.record(Outcome::Failure, Some(elapsed));
                        return Err(reqwest_middleware::Error::middleware(AttemptTimedOut { after }));
                    }
                }
            }
        };
        let elapsed = clock.elapsed(timer).as_duration();
        permit.record((self.classify)(&result), Some(elapsed));
        result
    }
}

fn retry_after_of(rejected: Rejected) -> Option<Duration> {
    rejected.retry_after()
}
