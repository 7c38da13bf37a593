//! The response future of [`Retry`](super::Retry): attempt, decide, wait,
//! ready, attempt again.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;
use std::sync::Arc;

use brace::retry::{Decision, Delays, RetryBudget, RetryPolicy, SplitMix64, Withdrawal};
use brace::time::{Clock, Nanos, Sleeper};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::{DecideRetry, RetryLayer};
use crate::CircuitOpen;

pin_project! {
    /// The response future of [`Retry`](super::Retry).
    ///
    /// # Cancellation
    ///
    /// Dropping it drops the attempt in flight or cancels the wait; no
    /// further attempt is made. A request dropped during its first attempt
    /// makes no budget deposit; one dropped while waiting to retry gets the
    /// retry's budget withdrawal back.
    ///
    /// # Budget
    ///
    /// A retry is paid for when it is planned, before its backoff (so an
    /// empty budget ends the request at once rather than after a wait), and
    /// the payment is refunded if the retry does not reach the dependency:
    /// the request is dropped before the retry is sent, or the retry is
    /// refused by a circuit breaker (an error that is a [`CircuitOpen`], or
    /// a result the decider calls [`Decision::Rejected`]).
    ///
    /// # Time limit
    ///
    /// [`RetryPolicy::max_elapsed`] is applied when a retry is planned: one
    /// whose backoff would end past the limit is not made. The failed
    /// attempt's result is dropped before the wait (a response may hold a
    /// connection or a pool slot that the inner service needs to become
    /// ready again), so a retry planned in time is made even if the inner
    /// service becomes ready only past the limit: bound that wait with a
    /// timeout layer outside the retry layer.
    ///
    /// ```
    /// use brace::retry::{Backoff, RetryBudget, RetryPolicy};
    /// use brace_tokio::TokioClock;
    /// use brace_tower::RetryLayer;
    /// use std::sync::Arc;
    /// use std::future::Future;
    /// use std::time::Duration;
    /// use tower::{Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let budget = Arc::new(
    ///     RetryBudget::builder().ratio(1.0).min_retries_per_sec(0).build(TokioClock::new()).unwrap(),
    /// );
    /// let backoff = Backoff::constant(Duration::from_secs(1)).build().unwrap();
    /// let policy = RetryPolicy::builder(backoff).max_attempts(3).build().unwrap();
    /// let down = tower::service_fn(|_: u32| async { Err::<u32, _>("down") });
    /// let mut svc = RetryLayer::new(policy).budget(budget.clone()).layer(down);
    /// let mut request = Box::pin(svc.ready().await.unwrap().call(1));
    /// // The first attempt fails; the retry is paid for and waits its second.
    /// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// assert!(request.as_mut().poll(&mut cx).is_pending());
    /// assert_eq!(budget.available(), 0);
    /// drop(request); // given up before the retry was sent: refunded
    /// assert_eq!(budget.available(), 1);
    /// # }
    /// ```
    pub struct ResponseFuture<S, Req, D, Clk, Slp>
    where
        S: Service<Req>,
        Clk: Clock,
        Slp: Sleeper,
    {
        #[pin]
        step: Step<S::Future, Slp::Sleep>,
        service: S,
        request: Req,
        attempts: u32,
        started: Nanos,
        delays: Option<Delays<SplitMix64>>,
        // One `Arc` of the layer's settings rather than copies of them: the
        // future stays small (it is moved on every call) and a request pays
        // one reference count, as it did for the budget alone.
        config: Arc<RetryLayer<D, Clk, Slp>>,
        // The next retry's payment while it waits to be sent (refunded if
        // this future is dropped), then while it runs (refunded if a
        // breaker refuses it).
        paid: Paid,
    }

    impl<S, Req, D, Clk, Slp> PinnedDrop for ResponseFuture<S, Req, D, Clk, Slp>
    where
        S: Service<Req>,
        Clk: Clock,
        Slp: Sleeper,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let (Paid::Waiting(paid), Some(budget)) =
                (core::mem::take(this.paid), &this.config.budget)
            {
                budget.refund(paid);
            }
        }
    }
}

/// Where the next retry's budget withdrawal stands.
#[derive(Debug, Default)]
enum Paid {
    /// No retry paid for (no budget, or no retry planned).
    #[default]
    Nothing,
    /// Paid for; the retry has not been sent yet.
    Waiting(Withdrawal),
    /// Paid for and sent; spent unless a breaker refuses it.
    Sent(Withdrawal),
}

pin_project! {
    #[project = StepProj]
    enum Step<F, Z> {
        Attempt { #[pin] future: F },
        Wait { #[pin] sleep: Z },
        Ready,
    }
}

impl<S, Req, D, Clk, Slp> ResponseFuture<S, Req, D, Clk, Slp>
where
    S: Service<Req>,
    Clk: Clock,
    Slp: Sleeper,
{
    pub(super) fn new(
        first: S::Future,
        service: S,
        request: Req,
        config: &Arc<RetryLayer<D, Clk, Slp>>,
    ) -> Self {
        // The clock is only needed to enforce `max_elapsed`.
        let started = match config.policy.max_elapsed() {
            Some(_) => config.clock.now(),
            None => Nanos::ZERO,
        };
        ResponseFuture {
            step: Step::Attempt { future: first },
            service,
            request,
            attempts: 1,
            started,
            delays: None,
            config: Arc::clone(config),
            paid: Paid::Nothing,
        }
    }
}

/// Why the loop stops or how long it waits before the next attempt.
fn next_wait<Res, E: 'static, Clk: Clock>(
    result: &Result<Res, E>,
    decision: Decision,
    attempts: u32,
    policy: &RetryPolicy,
    delays: &mut Option<Delays<SplitMix64>>,
    elapsed: impl FnOnce() -> Option<Duration>,
    budget: Option<&RetryBudget<Clk>>,
) -> Option<(Duration, Option<Withdrawal>)> {
    if let Err(e) = result {
        if CircuitOpen::is_in(e) {
            return None;
        }
    }
    if attempts >= policy.max_attempts() {
        return None;
    }
    let wait = match decision {
        Decision::DoNotRetry | Decision::Rejected(_) => return None,
        Decision::Retry => delays
            .get_or_insert_with(|| policy.backoff().delays())
            .next()
            .unwrap_or(Duration::ZERO),
        Decision::RetryAfter(wait) => wait.min(policy.max_retry_after()),
    };
    if let (Some(limit), Some(elapsed)) = (policy.max_elapsed(), elapsed()) {
        if elapsed.saturating_add(wait) > limit {
            return None;
        }
    }
    let paid = match budget {
        Some(budget) => Some(budget.try_withdrawal()?),
        None => None,
    };
    Some((wait, paid))
}

impl<S, Req, D, Clk, Slp> Future for ResponseFuture<S, Req, D, Clk, Slp>
where
    S: Service<Req>,
    S::Error: 'static,
    Req: Clone,
    D: DecideRetry<S::Response, S::Error>,
    Clk: Clock,
    Slp: Sleeper,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.step.as_mut().project() {
                StepProj::Attempt { future } => {
                    let result = ready!(future.poll(cx));
                    let config = &**this.config;
                    let decision = config.decide.decide(&result);
                    // Refused by a breaker: the attempt never reached the
                    // dependency, so it neither earns nor spends retries.
                    let refused = matches!(decision, Decision::Rejected(_))
                        || matches!(&result, Err(e) if CircuitOpen::is_in(e));
                    if let Some(budget) = &config.budget {
                        match core::mem::take(this.paid) {
                            Paid::Sent(paid) if refused => budget.refund(paid),
                            _ => {}
                        }
                        if *this.attempts == 1 && !refused {
                            budget.deposit();
                        }
                    }
                    let started = *this.started;
                    let wait = next_wait(
                        &result,
                        decision,
                        *this.attempts,
                        &config.policy,
                        this.delays,
                        || Some(config.clock.now().saturating_sub(started).as_duration()),
                        config.budget.as_deref(),
                    );
                    let Some((wait, paid)) = wait else {
                        return Poll::Ready(result);
                    };
                    if let Some(paid) = paid {
                        *this.paid = Paid::Waiting(paid);
                    }
                    // Dropped before waiting (see "Time limit" above).
                    drop(result);
                    if wait.is_zero() {
                        this.step.set(Step::Ready);
                    } else {
                        this.step.set(Step::Wait {
                            sleep: config.sleeper.sleep(wait),
                        });
                    }
                }
                StepProj::Wait { sleep } => {
                    ready!(sleep.poll(cx));
                    this.step.set(Step::Ready);
                }
                StepProj::Ready => {
                    ready!(this.service.poll_ready(cx))?;
                    if let Paid::Waiting(paid) = core::mem::take(this.paid) {
                        *this.paid = Paid::Sent(paid);
                    }
                    *this.attempts += 1;
                    let future = this.service.call(this.request.clone());
                    this.step.set(Step::Attempt { future });
                }
            }
        }
    }
}

impl<S, Req, D, Clk, Slp> core::fmt::Debug for ResponseFuture<S, Req, D, Clk, Slp>
where
    S: Service<Req>,
    Clk: Clock,
    Slp: Sleeper,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}
