//! [`RetryLayer`]: configuration only, cheap to clone.

use std::sync::Arc;

use brace::retry::{RetryBudget, RetryPolicy};
use brace_tokio::{TokioClock, TokioSleeper};
use tower_layer::Layer;

use super::{Retry, RetryErrors};

/// Wraps services in a [`Retry`].
///
/// # Clone
///
/// Cloning the layer, or a service it made, shares the [`RetryBudget`]: it is
/// an `Arc`, so every clone and every connection draws on one budget for the
/// dependency — which is what stops retry storms. The policy, classifier,
/// clock and sleeper are copied.
///
/// ```
/// use brace::retry::{Backoff, RetryBudget, RetryPolicy};
/// use brace_tokio::TokioClock;
/// use brace_tower::RetryLayer;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let backoff = Backoff::exponential(Duration::from_millis(20), 2.0).build()?;
/// let policy = RetryPolicy::builder(backoff).max_attempts(3).build()?;
/// let budget = Arc::new(RetryBudget::builder().build(TokioClock::new())?);
/// let layer = RetryLayer::new(policy).budget(budget.clone());
/// let svc = tower::ServiceBuilder::new()
///     .layer(layer)
///     .service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x) });
/// # let _ = svc;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct RetryLayer<D = RetryErrors, Clk = TokioClock, Slp = TokioSleeper> {
    pub(super) policy: RetryPolicy,
    pub(super) budget: Option<Arc<RetryBudget<Clk>>>,
    pub(super) decide: D,
    pub(super) clock: Clk,
    pub(super) sleeper: Slp,
}

impl RetryLayer {
    /// Retries under `policy`, on tokio's time, with no budget and the
    /// [`RetryErrors`] classifier.
    pub fn new(policy: RetryPolicy) -> Self {
        RetryLayer {
            policy,
            budget: None,
            decide: RetryErrors,
            clock: TokioClock::new(),
            sleeper: TokioSleeper,
        }
    }
}

impl<D, Clk, Slp> RetryLayer<D, Clk, Slp> {
    /// Spends retries from `budget`, shared by every clone; each request
    /// whose first attempt ends deposits into it, unless that attempt was
    /// refused by an open breaker ([`CircuitOpen`](crate::CircuitOpen)):
    /// refused requests never reached the dependency, so they earn no
    /// retries for the moment it comes back. A retry is paid for before
    /// its backoff and refunded if it is not sent (the request is dropped
    /// meanwhile) or a breaker refuses it.
    ///
    /// A breaker built with [`http`](crate::CircuitBreakerLayer::http)
    /// refuses with a 503 response, not an error, carrying the
    /// [`CircuitOpen`](crate::CircuitOpen) in its extensions: a decider
    /// that answers [`Decision::Rejected`](brace::retry::Decision::Rejected)
    /// for such responses (see [`DecideRetry`](super::DecideRetry)) keeps
    /// them out of the budget too; any other decision counts them as
    /// responses. The budget reads the same clock as the layer.
    pub fn budget(mut self, budget: Arc<RetryBudget<Clk>>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Replaces the classifier deciding what is retried.
    pub fn decide<D2>(self, decide: D2) -> RetryLayer<D2, Clk, Slp> {
        RetryLayer {
            policy: self.policy,
            budget: self.budget,
            decide,
            clock: self.clock,
            sleeper: self.sleeper,
        }
    }

    /// Replaces the clock (for `max_elapsed` and the budget) and the
    /// sleeper (for the waits between attempts), e.g. a `ManualClock` in
    /// tests. Set it before [`budget`](Self::budget): a budget set earlier
    /// on another clock is dropped.
    pub fn time<Clk2, Slp2>(self, clock: Clk2, sleeper: Slp2) -> RetryLayer<D, Clk2, Slp2> {
        RetryLayer {
            policy: self.policy,
            budget: None,
            decide: self.decide,
            clock,
            sleeper,
        }
    }

    /// The shared budget, if any, to watch how much is left.
    pub fn get_budget(&self) -> Option<&Arc<RetryBudget<Clk>>> {
        self.budget.as_ref()
    }
}

impl<S, D: Clone, Clk: Clone, Slp: Clone> Layer<S> for RetryLayer<D, Clk, Slp> {
    type Service = Retry<S, D, Clk, Slp>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry {
            inner,
            config: Arc::new(self.clone()),
        }
    }
}
