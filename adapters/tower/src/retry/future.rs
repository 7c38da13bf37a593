//! The response future of [`Retry`](super::Retry): attempt, decide, wait,
//! ready, attempt again.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;
use std::sync::Arc;

use brace::retry::{Decision, Delays, RetryBudget, RetryPolicy, SplitMix64};
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
    /// makes no budget deposit.
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
    }
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
) -> Option<Duration> {
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
    if let Some(budget) = budget {
        if !budget.try_withdraw() {
            return None;
        }
    }
    Some(wait)
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
                    if *this.attempts == 1 {
                        if let Some(budget) = &config.budget {
                            if !matches!(&result, Err(e) if CircuitOpen::is_in(e)) {
                                budget.deposit();
                            }
                        }
                    }
                    let decision = config.decide.decide(&result);
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
                    let Some(wait) = wait else {
                        return Poll::Ready(result);
                    };
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
