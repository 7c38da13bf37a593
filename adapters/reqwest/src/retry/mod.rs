//! [`RetryMiddleware`]: retries transient failures of idempotent requests,
//! honouring `Retry-After`, under a shared [`RetryBudget`].

mod classify;
mod report;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use brace::retry::{Decision, RetryBudget, RetryPolicy, Withdrawal};
use brace::time::{Clock, Nanos, Sleeper};
use brace_tokio::{TokioClock, TokioSleeper};
use http::{Extensions, Method};
use reqwest::{Request, Response};
use reqwest_middleware::{Error, Middleware, Next, Result};

pub use classify::{RetryClassifier, is_idempotent, retry_transient};
pub use report::{AttemptTimedOut, GaveUp, RetryFailed, RetryOutcome};

use crate::CircuitOpen;
use crate::retry_after::retry_after_header;

/// A retry middleware setting refused by [`RetryMiddlewareBuilder::build`].
///
/// ```
/// use brace::retry::{Backoff, RetryPolicy};
/// use brace_reqwest::RetryMiddleware;
/// use std::time::Duration;
///
/// let policy = RetryPolicy::builder(Backoff::none()).build().unwrap();
/// let err = RetryMiddleware::builder(policy).attempt_timeout(Duration::ZERO).build().unwrap_err();
/// assert_eq!(err.field(), "attempt_timeout");
/// assert_eq!(err.to_string(), "invalid retry middleware setting `attempt_timeout`: must be greater than zero");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    problem: &'static str,
}

impl ConfigError {
    /// The setting that was refused.
    pub fn field(&self) -> &'static str {
        self.field
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid retry middleware setting `{}`: {}",
            self.field, self.problem
        )
    }
}

impl std::error::Error for ConfigError {}

/// Builds a [`RetryMiddleware`]; see [`RetryMiddleware::builder`].
///
/// ```
/// use brace::retry::{Backoff, RetryPolicy};
/// use brace_reqwest::RetryMiddleware;
/// use std::time::Duration;
///
/// let policy = RetryPolicy::builder(Backoff::none()).max_attempts(2).build().unwrap();
/// let retry = RetryMiddleware::builder(policy)
///     .retry_post() // opt in: the server de-duplicates POSTs
///     .honour_retry_after(false)
///     .seed(42) // reproducible jitter
///     .build()
///     .unwrap();
/// assert!(retry.budget().is_none());
/// // A zero attempt timeout is refused, naming the setting.
/// let policy = RetryPolicy::builder(Backoff::none()).build().unwrap();
/// let err = RetryMiddleware::builder(policy)
///     .attempt_timeout(Duration::ZERO)
///     .build()
///     .unwrap_err();
/// assert_eq!(err.field(), "attempt_timeout");
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct RetryMiddlewareBuilder {
    policy: RetryPolicy,
    budget: Option<Arc<RetryBudget<TokioClock>>>,
    methods: Vec<Method>,
    classify: Arc<RetryClassifier>,
    attempt_timeout: Option<Duration>,
    honour_retry_after: bool,
    seed: Option<u64>,
    wall_clock: fn() -> SystemTime,
}

impl RetryMiddlewareBuilder {
    /// Draws every retry from `budget` (shared by all clones and by anyone
    /// else holding it); each request's first attempt deposits into it.
    pub fn budget(mut self, budget: Arc<RetryBudget<TokioClock>>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Also retries POST (off by default: a POST that timed out may have
    /// been processed). Use with idempotency keys.
    pub fn retry_post(self) -> Self {
        self.retry_method(Method::POST)
    }

    /// Also retries `method` (PATCH, a custom method, ...).
    pub fn retry_method(mut self, method: Method) -> Self {
        if !self.methods.contains(&method) {
            self.methods.push(method);
        }
        self
    }

    /// Replaces the classifier ([`retry_transient`] by default).
    pub fn classify(
        mut self,
        classify: impl Fn(&Result<Response>) -> Decision + Send + Sync + 'static,
    ) -> Self {
        self.classify = Arc::new(classify);
        self
    }

    /// Abandons an attempt that has not produced a response head within
    /// `timeout` (waiting on brace-tokio's sleeper, so tokio's paused time
    /// drives it); it fails with [`AttemptTimedOut`], retryable by default.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Whether a valid `Retry-After` on a response to be retried replaces
    /// the backoff's delay (default `true`). The wait is capped at the
    /// policy's [`max_retry_after`](RetryPolicy::max_retry_after).
    pub fn honour_retry_after(mut self, honour: bool) -> Self {
        self.honour_retry_after = honour;
        self
    }

    /// Seeds the backoff jitter (reproducible waits, for tests and demos).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The wall clock `Retry-After` dates are measured against
    /// (`SystemTime::now` by default).
    pub fn wall_clock(mut self, now: fn() -> SystemTime) -> Self {
        self.wall_clock = now;
        self
    }

    /// The middleware.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming `attempt_timeout` when it is zero.
    pub fn build(self) -> std::result::Result<RetryMiddleware, ConfigError> {
        if self.attempt_timeout == Some(Duration::ZERO) {
            return Err(ConfigError {
                field: "attempt_timeout",
                problem: "must be greater than zero",
            });
        }
        Ok(RetryMiddleware {
            inner: Arc::new(self),
        })
    }
}

impl fmt::Debug for RetryMiddlewareBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryMiddleware")
            .field("policy", &self.policy)
            .field("budget", &self.budget)
            .field("methods", &self.methods)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("honour_retry_after", &self.honour_retry_after)
            .finish_non_exhaustive()
    }
}

/// A reqwest middleware that retries transient failures.
///
/// * Only idempotent methods are retried unless opted in
///   ([`retry_post`](RetryMiddlewareBuilder::retry_post)).
/// * What is transient is the classifier's call ([`retry_transient`] by
///   default: 429, 502, 503, 504, connect errors, resets, timeouts).
/// * The wait is the policy's jittered backoff, or the response's
///   `Retry-After` (seconds or HTTP date) capped at the policy's
///   `max_retry_after`; a garbage `Retry-After` falls back to the backoff.
/// * Every retry is withdrawn from the shared [`RetryBudget`], if one is set,
///   and refunded if it is not sent or a breaker refuses it.
/// * A [`CircuitOpen`](crate::CircuitOpen) is never retried, and does not
///   deposit into the budget.
/// * A request whose body cannot be cloned is sent once
///   ([`GaveUp::BodyNotCloneable`]).
/// * Waits go through brace-tokio's [`TokioSleeper`] and elapsed time through
///   [`TokioClock`], so `tokio::time::pause` makes tests instant and exact.
///
/// The response carries a [`RetryOutcome`] extension; an error is a
/// [`RetryFailed`] (attempts, reason, last error) inside
/// `reqwest_middleware::Error::Middleware`.
///
/// # Cancellation
///
/// Dropping the request future drops the attempt in flight or the wait; a
/// budget withdrawal made for a retry that was not sent yet is refunded.
/// (A retry is paid for before its wait, so an empty budget ends the
/// request at once; a retry refused by a breaker gets its payment back
/// too.)
///
/// # Clone
///
/// Cheap: clones share the configuration and the budget.
///
/// ```
/// use brace::retry::{Backoff, RetryBudget, RetryPolicy};
/// use brace_reqwest::{RetryMiddleware, RetryOutcome};
/// use brace_tokio::TokioClock;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = RetryPolicy::builder(Backoff::exponential(Duration::from_millis(50), 2.0).build()?)
///     .max_attempts(3)
///     .max_retry_after(Duration::from_secs(5))
///     .build()?;
/// let budget = Arc::new(RetryBudget::builder().ratio(0.1).build(TokioClock::new())?);
/// let retry = RetryMiddleware::builder(policy)
///     .budget(budget)
///     .attempt_timeout(Duration::from_secs(2))
///     .build()?;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(retry)
///     .build();
/// // Nothing listens on port 9 (discard): connect errors, retried twice.
/// let err = client.get("http://127.0.0.1:9/").send().await.unwrap_err();
/// assert_eq!(brace_reqwest::RetryFailed::find(&err).unwrap().attempts(), 3);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RetryMiddleware {
    inner: Arc<RetryMiddlewareBuilder>,
}

impl fmt::Debug for RetryMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl RetryMiddleware {
    /// A builder retrying under `policy` (attempts, backoff, `Retry-After`
    /// cap, time limit), with no budget, idempotent methods only, the
    /// [`retry_transient`] classifier and no per-attempt timeout.
    pub fn builder(policy: RetryPolicy) -> RetryMiddlewareBuilder {
        RetryMiddlewareBuilder {
            policy,
            budget: None,
            methods: [
                Method::GET,
                Method::HEAD,
                Method::OPTIONS,
                Method::PUT,
                Method::DELETE,
                Method::TRACE,
            ]
            .into(),
            classify: Arc::new(retry_transient),
            attempt_timeout: None,
            honour_retry_after: true,
            seed: None,
            wall_clock: SystemTime::now,
        }
    }

    /// The budget retries are drawn from, if any.
    pub fn budget(&self) -> Option<&Arc<RetryBudget<TokioClock>>> {
        self.inner.budget.as_ref()
    }

    async fn attempt(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let Some(after) = self.inner.attempt_timeout else {
            return next.run(req, extensions).await;
        };
        tokio::select! {
            result = next.run(req, extensions) => result,
            () = TokioSleeper.sleep(after) => {
                Err(reqwest_middleware::Error::middleware(AttemptTimedOut { after }))
            }
        }
    }

    /// The classifier's decision, with a response's `Retry-After` taking
    /// the place of the backoff.
    fn decide(&self, result: &Result<Response>) -> Decision {
        // An open breaker's refusal stops the loop whatever the classifier
        // says: retrying it only waits out backoff against a closed door.
        if let Err(Error::Middleware(e)) = result {
            if let Some(open) = e.downcast_ref::<CircuitOpen>() {
                return Decision::Rejected(open.retry_after);
            }
        }
        let decision = (self.inner.classify)(result);
        match (decision, result) {
            (Decision::Retry, Ok(response)) if self.inner.honour_retry_after => {
                match retry_after_header(response.headers(), (self.inner.wall_clock)()) {
                    Some(wait) => Decision::RetryAfter(wait),
                    None => Decision::Retry,
                }
            }
            _ => decision,
        }
    }
}

/// Puts the attempt count on the result: an extension on a response, a
/// [`RetryFailed`] around an error.
fn finish(
    result: Result<Response>,
    extensions: &mut Extensions,
    attempts: u32,
    gave_up: Option<GaveUp>,
) -> Result<Response> {
    let outcome = RetryOutcome { attempts, gave_up };
    extensions.insert(outcome);
    match result {
        Ok(mut response) => {
            response.extensions_mut().insert(outcome);
            Ok(response)
        }
        Err(error) => {
            let reason = gave_up.unwrap_or(GaveUp::NotRetryable);
            Err(reqwest_middleware::Error::middleware(RetryFailed::new(
                attempts, reason, error,
            )))
        }
    }
}

#[async_trait::async_trait]
impl Middleware for RetryMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let cfg = &*self.inner;
        let clock = TokioClock::new();
        let limit = cfg
            .policy
            .max_elapsed()
            .map(|d| clock.now().saturating_add(Nanos::from_duration(d)));
        let method_retried = cfg.methods.contains(req.method());
        let mut delays = None;
        let mut attempts = 0;
        // The running retry's budget withdrawal: spent unless a breaker
        // refuses the retry.
        let mut sent: Option<Withdrawal> = None;
        loop {
            attempts += 1;
            let may_retry = method_retried && attempts < cfg.policy.max_attempts();
            let spare = if may_retry { req.try_clone() } else { None };
            let result = self.attempt(req, extensions, next.clone()).await;
            let decision = self.decide(&result);
            if let Some(budget) = &cfg.budget {
                // A refused attempt never reached the server: it neither
                // earns nor spends retries.
                let refused = matches!(decision, Decision::Rejected(_));
                match sent.take() {
                    Some(paid) if refused => budget.refund(paid),
                    _ => {}
                }
                if attempts == 1 && !refused {
                    budget.deposit();
                }
            }
            let asked = match decision {
                Decision::DoNotRetry => return finish(result, extensions, attempts, None),
                Decision::Rejected(_) => {
                    return finish(result, extensions, attempts, Some(GaveUp::CircuitOpen));
                }
                Decision::Retry => None,
                Decision::RetryAfter(wait) => Some(wait.min(cfg.policy.max_retry_after())),
            };
            if !method_retried {
                return finish(result, extensions, attempts, Some(GaveUp::MethodNotRetried));
            }
            if attempts >= cfg.policy.max_attempts() {
                return finish(
                    result,
                    extensions,
                    attempts,
                    Some(GaveUp::AttemptsExhausted),
                );
            }
            let Some(spare) = spare else {
                return finish(result, extensions, attempts, Some(GaveUp::BodyNotCloneable));
            };
            let wait = asked.unwrap_or_else(|| {
                delays
                    .get_or_insert_with(|| match cfg.seed {
                        Some(seed) => cfg.policy.backoff().delays_seeded(seed),
                        None => cfg.policy.backoff().delays(),
                    })
                    .next()
                    .unwrap_or_default()
            });
            if let Some(limit) = limit {
                if clock.now().saturating_add(Nanos::from_duration(wait)) > limit {
                    return finish(result, extensions, attempts, Some(GaveUp::Deadline));
                }
            }
            let paid = match &cfg.budget {
                Some(budget) => match budget.try_withdrawal() {
                    Some(paid) => Some(Unsent {
                        budget,
                        paid: Some(paid),
                    }),
                    None => {
                        return finish(result, extensions, attempts, Some(GaveUp::BudgetExhausted));
                    }
                },
                None => None,
            };
            drop(result); // frees the connection before waiting
            if !wait.is_zero() {
                TokioSleeper.sleep(wait).await;
            }
            sent = paid.map(Unsent::send);
            req = spare;
        }
    }
}

/// A retry's budget withdrawal before the retry is sent: refunded if
/// dropped (the request future was dropped during the wait).
struct Unsent<'a> {
    budget: &'a RetryBudget<TokioClock>,
    paid: Option<Withdrawal>,
}

impl Unsent<'_> {
    /// The retry is being sent: the withdrawal is no longer refunded on
    /// drop.
    fn send(mut self) -> Withdrawal {
        self.paid.take().expect("taken only here")
    }
}

impl Drop for Unsent<'_> {
    fn drop(&mut self) {
        if let Some(paid) = self.paid.take() {
            self.budget.refund(paid);
        }
    }
}
