//! [`Retry`]: runs an operation under a policy, a budget and injected time.

use core::fmt;
use core::future::Future;
use core::time::Duration;

use super::budget::RetryBudget;
use super::control::{Account, Control, Next};
use super::error::{RetryError, StopReason};
use super::policy::{Classify, Decision, RetryAll, RetryPolicy};
use crate::breaker::{CircuitBreaker, Permit};
use crate::time::{Clock, Nanos, Sleeper};

/// Runs an operation until it succeeds or the [`RetryPolicy`] says stop.
///
/// Configure one call with the builder methods, then [`run`](Retry::run)
/// an async operation `|attempt| future` (attempt 1 is the first), or
/// [`run_blocking`](Retry::run_blocking) a blocking one.
///
/// After each failure the classifier ([`Classify`]; default [`RetryAll`])
/// decides; a retry then needs an attempt left, a wait that ends before the
/// deadline, and (if a [`RetryBudget`] is attached) a withdrawal. The first
/// attempt deposits into the budget.
///
/// # Errors
///
/// [`RetryError`] with the [`StopReason`], the number of
/// attempts and the last error.
///
/// # Cancellation
///
/// The future returned by `run` is an ordinary state machine: dropping it
/// at any `.await` (during an attempt or a wait) drops the attempt's future
/// or the sleep and starts nothing more. A breaker permit held by a dropped
/// attempt reports "ignored" (its probe slot is freed). A budget withdrawal
/// made for the retry it was waiting to start is refunded: a retry is paid
/// for only if it starts.
///
/// # Breaker interplay
///
/// A call refused by an open circuit breaker is never retried and never
/// spends budget; retrying against an open breaker only burns budget on
/// calls that cannot happen. Two ways to get this:
///
/// * [`Retry::breaker`]: the executor asks the [`CircuitBreaker`] for a
///   permit before every attempt. A [`Rejected`](crate::breaker::Rejected) stops the loop at once
///   with [`StopReason::Rejected`] (carrying when the breaker admits a probe
///   again), before the budget is touched: a retry's withdrawal is made only
///   after the breaker admitted the attempt (so, with a breaker, after the
///   wait), and a refused first attempt does not deposit. Each attempt's
///   outcome is recorded on its permit: success; failure when the
///   classifier says retry; ignored when it says do not retry.
/// * If the breaker sits inside the operation (a tower layer, say), classify
///   its rejection as [`Decision::Rejected`] (`Decision::from(&rejected)`):
///   the loop stops at once, without waiting; a refused first attempt
///   does not deposit, and a refused retry gets back the withdrawal made
///   for it (the attempt never reached the dependency).
///
/// ```
/// use brace::retry::{Backoff, Decision, Retry, RetryBudget, RetryPolicy, StopReason};
/// use brace::time::{Clock, ManualClock};
/// use core::time::Duration;
///
/// # futures::executor::block_on(async {
/// let clock = ManualClock::new(); // also a Sleeper: waits advance it
/// let policy = RetryPolicy::builder(
///     Backoff::exponential(Duration::from_millis(100), 2.0).build().unwrap(),
/// )
/// .max_attempts(3)
/// .build()
/// .unwrap();
/// let budget = RetryBudget::builder().build(clock.clone()).unwrap();
///
/// let result = Retry::new(&policy, &clock, &clock)
///     .budget(&budget)
///     .classify(|e: &&str| if *e == "busy" { Decision::Retry } else { Decision::DoNotRetry })
///     .run(|attempt| async move { if attempt < 3 { Err("busy") } else { Ok(attempt) } })
///     .await;
/// assert_eq!(result, Ok(3));
///
/// let err = Retry::new(&policy, &clock, &clock)
///     .run(|_| async { Err::<(), _>("down") })
///     .await
///     .unwrap_err();
/// assert_eq!(err.reason(), StopReason::AttemptsExhausted);
/// assert_eq!(err.attempts(), 3);
/// # });
/// ```
pub struct Retry<'a, C, S, K = RetryAll, B: Clock = C> {
    policy: &'a RetryPolicy,
    clock: &'a C,
    sleeper: &'a S,
    classify: K,
    budget: Option<&'a dyn Account>,
    breaker: Option<&'a CircuitBreaker<B>>,
    deadline: Option<Nanos>,
    seed: Option<u64>,
}

impl<'a, C: Clock, S> Retry<'a, C, S, RetryAll> {
    /// A call under `policy`, reading time from `clock` and waiting with
    /// `sleeper` (a [`Sleeper`] for [`run`](Retry::run), a
    /// [`BlockingSleep`] for [`run_blocking`](Retry::run_blocking)).
    pub fn new(policy: &'a RetryPolicy, clock: &'a C, sleeper: &'a S) -> Self {
        Retry {
            policy,
            clock,
            sleeper,
            classify: RetryAll,
            budget: None,
            breaker: None,
            deadline: None,
            seed: None,
        }
    }
}

impl<'a, C: Clock, S, K, B: Clock> Retry<'a, C, S, K, B> {
    /// Decides per error whether to retry (default: [`RetryAll`]).
    pub fn classify<K2>(self, classify: K2) -> Retry<'a, C, S, K2, B> {
        Retry {
            policy: self.policy,
            clock: self.clock,
            sleeper: self.sleeper,
            classify,
            budget: self.budget,
            breaker: self.breaker,
            deadline: self.deadline,
            seed: self.seed,
        }
    }

    /// Asks `breaker` for a permit before every attempt and records each
    /// outcome on it; see [Breaker interplay](Retry#breaker-interplay).
    ///
    /// ```
    /// use brace::breaker::{CircuitBreaker, Config};
    /// use brace::retry::{Backoff, Retry, RetryBudget, RetryPolicy, StopReason};
    /// use brace::time::ManualClock;
    /// use core::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let breaker = CircuitBreaker::new(
    ///     Config::builder().consecutive_failures(2).build().unwrap(),
    ///     clock.clone(),
    /// );
    /// let budget = RetryBudget::builder().ratio(1.0).min_retries_per_sec(0).build(clock.clone()).unwrap();
    /// for _ in 0..10 {
    ///     budget.deposit();
    /// }
    /// let policy = RetryPolicy::builder(Backoff::constant(Duration::from_millis(5)).build().unwrap())
    ///     .max_attempts(5)
    ///     .build()
    ///     .unwrap();
    /// let err = Retry::new(&policy, &clock, &clock)
    ///     .budget(&budget)
    ///     .breaker(&breaker)
    ///     .run_blocking(|_| Err::<(), _>("down"))
    ///     .unwrap_err();
    /// // Two failures open the breaker; the third attempt is refused, unpaid.
    /// assert!(matches!(err.reason(), StopReason::Rejected { .. }));
    /// assert_eq!(err.attempts(), 2);
    /// assert_eq!(budget.available(), 11 - 1);
    /// ```
    pub fn breaker<B2: Clock>(self, breaker: &'a CircuitBreaker<B2>) -> Retry<'a, C, S, K, B2> {
        Retry {
            policy: self.policy,
            clock: self.clock,
            sleeper: self.sleeper,
            classify: self.classify,
            budget: self.budget,
            breaker: Some(breaker),
            deadline: self.deadline,
            seed: self.seed,
        }
    }

    /// Deposits the first attempt into `budget` and withdraws every retry
    /// from it.
    pub fn budget<BC: Clock>(mut self, budget: &'a RetryBudget<BC>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The caller's deadline, on `clock`'s time line: no attempt starts at
    /// or after it, and the loop never waits past it; it gives up early with
    /// the last error instead.
    pub fn deadline(mut self, at: Nanos) -> Self {
        self.deadline = Some(at);
        self
    }

    /// The same as [`deadline`](Retry::deadline) at `clock.now() + within`.
    pub fn deadline_in(self, within: Duration) -> Self {
        let at = self
            .clock
            .now()
            .saturating_add(Nanos::from_duration(within));
        self.deadline(at)
    }

    /// Seeds the jitter, for reproducible waits (tests, simulations). By
    /// default each call seeds from entropy.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    #[inline]
    fn control(&self) -> Control<'a> {
        let control = Control::start(
            self.policy,
            self.budget,
            self.clock,
            self.deadline,
            self.seed,
        );
        if self.breaker.is_some() {
            control.defer_withdrawal()
        } else {
            control
        }
    }

    /// Before an attempt: the time limits (a sleeper may have overslept, a
    /// deadline may have passed before the first attempt), the breaker's
    /// permit (if there is a breaker) and, for a retry, the budget's
    /// withdrawal, in that order.
    #[inline]
    fn admit(&self, control: &mut Control<'a>) -> Result<Option<Permit<'a, B>>, StopReason> {
        if control.out_of_time(self.clock) {
            return Err(StopReason::Deadline);
        }
        let Some(breaker) = self.breaker else {
            return Ok(None);
        };
        let permit = breaker.try_acquire().map_err(|r| StopReason::Rejected {
            retry_in: r.retry_after(),
        })?;
        if !control.pay_for_retry() {
            permit.record_ignored();
            return Err(StopReason::BudgetExhausted);
        }
        Ok(Some(permit))
    }

    /// Runs `op(attempt)` until it succeeds or the loop stops.
    ///
    /// Waits of zero are skipped (no call to the sleeper).
    ///
    /// # Errors
    ///
    /// See the [type docs](Retry#errors).
    pub async fn run<T, E, F, Fut>(self, mut op: F) -> Result<T, RetryError<E>>
    where
        S: Sleeper,
        K: Classify<E>,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut control = self.control();
        let mut last = None;
        loop {
            let permit = match self.admit(&mut control) {
                Ok(permit) => permit,
                Err(reason) => return Err(RetryError::new(reason, control.attempts(), last)),
            };
            let attempt = control.begin_attempt();
            let error = match op(attempt).await {
                Ok(value) => return Ok(Self::succeed(&mut control, permit, value)),
                Err(error) => error,
            };
            match self.settle(&mut control, &error, permit) {
                Next::Stop(reason) => return Err(RetryError::new(reason, attempt, Some(error))),
                Next::Wait(wait) if wait.is_zero() => {}
                Next::Wait(wait) => self.sleeper.sleep(wait).await,
            }
            last = Some(error);
        }
    }

    /// Runs the blocking `op(attempt)` until it succeeds or the loop stops,
    /// waiting with the [`BlockingSleep`] given to [`Retry::new`].
    ///
    /// # Errors
    ///
    /// See the [type docs](Retry#errors).
    ///
    /// ```
    /// use brace::retry::{Backoff, Retry, RetryPolicy};
    /// use brace::time::{Clock, ManualClock};
    /// use core::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let policy = RetryPolicy::builder(Backoff::constant(Duration::from_secs(1)).build().unwrap())
    ///     .build()
    ///     .unwrap();
    /// let out = Retry::new(&policy, &clock, &clock)
    ///     .run_blocking(|attempt| if attempt == 2 { Ok("ok") } else { Err("flaky") });
    /// assert_eq!(out, Ok("ok"));
    /// assert!(clock.now().as_duration() <= Duration::from_secs(1));
    /// ```
    pub fn run_blocking<T, E, F>(self, mut op: F) -> Result<T, RetryError<E>>
    where
        S: BlockingSleep,
        K: Classify<E>,
        F: FnMut(u32) -> Result<T, E>,
    {
        let mut control = self.control();
        let mut last = None;
        loop {
            let permit = match self.admit(&mut control) {
                Ok(permit) => permit,
                Err(reason) => return Err(RetryError::new(reason, control.attempts(), last)),
            };
            let attempt = control.begin_attempt();
            let error = match op(attempt) {
                Ok(value) => return Ok(Self::succeed(&mut control, permit, value)),
                Err(error) => error,
            };
            match self.settle(&mut control, &error, permit) {
                Next::Stop(reason) => return Err(RetryError::new(reason, attempt, Some(error))),
                Next::Wait(wait) if wait.is_zero() => {}
                Next::Wait(wait) => self.sleeper.sleep_blocking(wait),
            }
            last = Some(error);
        }
    }

    /// An attempt succeeded: it reached the dependency, and its permit (if
    /// a breaker is attached) records a success.
    #[inline]
    fn succeed<T>(control: &mut Control<'a>, permit: Option<Permit<'a, B>>, value: T) -> T {
        control.reached_dependency();
        if let Some(permit) = permit {
            permit.record_success();
        }
        value
    }

    /// Classifies a failure, books it (budget, breaker permit) and decides
    /// what comes next.
    #[inline(never)]
    fn settle<E>(&self, control: &mut Control<'a>, error: &E, permit: Option<Permit<'a, B>>) -> Next
    where
        K: Classify<E>,
    {
        let decision = self.classify.classify(error);
        if let Some(permit) = permit {
            match decision {
                Decision::Retry | Decision::RetryAfter(_) => permit.record_failure(),
                Decision::DoNotRetry | Decision::Rejected(_) => permit.record_ignored(),
            }
        }
        if !matches!(decision, Decision::Rejected(_)) {
            control.reached_dependency();
        }
        control.after_failure(decision, self.clock)
    }
}

impl<C, S, K, B: Clock> fmt::Debug for Retry<'_, C, S, K, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("policy", self.policy)
            .field("budget", &self.budget.is_some())
            .field("breaker", &self.breaker.is_some())
            .field("deadline", &self.deadline)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

/// Waits by blocking the current thread; what
/// [`Retry::run_blocking`] sleeps with.
///
/// Implemented for every `Fn(Duration)`, for [`ManualClock`]
/// (which advances itself, so tests run on virtual time) and, with `std`,
/// for [`ThreadSleep`].
///
/// [`ManualClock`]: crate::time::ManualClock
///
/// ```
/// use brace::retry::BlockingSleep;
/// use core::time::Duration;
///
/// let slept = core::cell::Cell::new(Duration::ZERO);
/// let record = |d: Duration| slept.set(slept.get() + d);
/// record.sleep_blocking(Duration::from_millis(3));
/// assert_eq!(slept.get(), Duration::from_millis(3));
/// ```
pub trait BlockingSleep {
    /// Returns after `duration` has passed.
    fn sleep_blocking(&self, duration: Duration);
}

impl<F: Fn(Duration)> BlockingSleep for F {
    #[inline]
    fn sleep_blocking(&self, duration: Duration) {
        self(duration)
    }
}

impl BlockingSleep for crate::time::ManualClock {
    /// Advances the clock by `duration`.
    fn sleep_blocking(&self, duration: Duration) {
        self.advance(duration);
    }
}

/// Sleeps the OS thread ([`std::thread::sleep`]).
///
/// ```
/// use brace::retry::{BlockingSleep, ThreadSleep};
/// ThreadSleep.sleep_blocking(core::time::Duration::ZERO);
/// ```
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleep;

#[cfg(feature = "std")]
impl BlockingSleep for ThreadSleep {
    fn sleep_blocking(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}
