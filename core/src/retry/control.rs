//! The decision half of the retry loop, shared by the async and the blocking
//! executor: after a failed attempt, stop (and why) or wait how long.

use core::time::Duration;

use super::backoff::{Delays, Jitter};
use super::budget::{RetryBudget, Withdrawal};
use super::error::StopReason;
use super::policy::{Decision, RetryPolicy};
use super::rng::SplitMix64;
use crate::time::{Clock, Nanos};

/// The budget operations the loop needs, so the executor can hold any
/// `RetryBudget<C>` behind one reference type. `Sync`, so that holding
/// `&dyn Account` keeps `Retry::run`'s future `Send`.
pub(crate) trait Account: Sync {
    fn deposit(&self);
    fn try_withdrawal(&self) -> Option<Withdrawal>;
    fn refund(&self, withdrawal: Withdrawal);
}

impl<C: Clock> Account for RetryBudget<C> {
    #[inline]
    fn deposit(&self) {
        RetryBudget::deposit(self);
    }

    #[inline]
    fn try_withdrawal(&self) -> Option<Withdrawal> {
        RetryBudget::try_withdrawal(self)
    }

    fn refund(&self, withdrawal: Withdrawal) {
        RetryBudget::refund(self, withdrawal);
    }
}

/// What the loop does after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Wait this long, then attempt again.
    Wait(Duration),
    /// Give up.
    Stop(StopReason),
}

/// One call's retry state: attempts so far, the delay schedule and the
/// instant past which no attempt may start.
pub(crate) struct Control<'a> {
    policy: &'a RetryPolicy,
    budget: Option<&'a dyn Account>,
    /// Seeded on the first retry, so a call that succeeds at once pays
    /// nothing for randomness.
    delays: Option<Delays<SplitMix64>>,
    seed: Option<u64>,
    /// `max_elapsed` after the first attempt: an attempt may start at it.
    elapsed_limit: Option<Nanos>,
    /// The caller's deadline: no attempt starts at or after it.
    deadline: Option<Nanos>,
    attempts: u32,
    /// With a breaker, a retry's withdrawal waits until the breaker has
    /// admitted the attempt ([`Control::pay_for_retry`]).
    defer_withdrawal: bool,
    /// The next retry's payment, made before its wait: refunded if the
    /// retry never starts (the caller's deadline passes during the wait,
    /// or the call is dropped while waiting).
    paid: Option<Withdrawal>,
    /// The running retry's payment: spent, unless the attempt turns out to
    /// have been refused by a breaker inside the operation
    /// ([`Decision::Rejected`]), which never reached the dependency.
    sent: Option<Withdrawal>,
}

impl Drop for Control<'_> {
    fn drop(&mut self) {
        if let (Some(paid), Some(budget)) = (self.paid.take(), self.budget) {
            budget.refund(paid);
        }
    }
}

impl<'a> Control<'a> {
    /// Starts a call; `deadline` is the caller's, if any. The clock is read
    /// only when there is a time limit to enforce.
    #[inline]
    pub(crate) fn start(
        policy: &'a RetryPolicy,
        budget: Option<&'a dyn Account>,
        clock: &impl Clock,
        deadline: Option<Nanos>,
        seed: Option<u64>,
    ) -> Self {
        let elapsed_limit = policy
            .max_elapsed()
            .map(|d| clock.now().saturating_add(Nanos::from_duration(d)));
        Control {
            policy,
            budget,
            delays: None,
            seed,
            elapsed_limit,
            deadline,
            attempts: 0,
            defer_withdrawal: false,
            paid: None,
            sent: None,
        }
    }

    #[inline]
    fn next_backoff(&mut self) -> Duration {
        let (backoff, seed) = (self.policy.backoff(), self.seed);
        if backoff.is_zero() {
            return Duration::ZERO;
        }
        self.delays
            .get_or_insert_with(|| match seed {
                Some(seed) => backoff.delays_seeded(seed),
                // Without jitter the generator is never used: skip seeding.
                None if backoff.jitter() == Jitter::None => backoff.delays_seeded(0),
                None => backoff.delays(),
            })
            .next()
            .unwrap_or_default()
    }

    /// Withdraws for retries only once [`Control::pay_for_retry`] is called
    /// (after a breaker admitted the attempt), not when deciding to retry.
    pub(crate) fn defer_withdrawal(mut self) -> Self {
        self.defer_withdrawal = true;
        self
    }

    /// Attempts run so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Before the next attempt, in deferred mode: pays for it if it is a
    /// retry. `false` when the budget cannot.
    pub(crate) fn pay_for_retry(&mut self) -> bool {
        match self.budget {
            // The attempt starts right after (`begin_attempt`).
            Some(budget) if self.defer_withdrawal && self.attempts > 0 => {
                match budget.try_withdrawal() {
                    Some(paid) => {
                        self.paid = Some(paid);
                        true
                    }
                    None => false,
                }
            }
            _ => true,
        }
    }

    /// Whether the next attempt may not start now: at or past the
    /// caller's deadline. The loop plans its waits to end before it, but a
    /// sleeper may oversleep and the deadline may already have passed when
    /// the call begins; the caller has given up by then. (`max_elapsed` is
    /// the policy's own bound and applies when a retry is planned: a retry
    /// planned in time is made even if the sleeper wakes a little late.
    /// A retry stopped here gets its budget token back when the loop
    /// ends.) Reads the clock only when there is a deadline.
    #[inline]
    pub(crate) fn out_of_time(&self, clock: &impl Clock) -> bool {
        self.deadline
            .is_some_and(|deadline| clock.now() >= deadline)
    }

    /// Counts an attempt about to run and returns its number (1 first).
    #[inline]
    pub(crate) fn begin_attempt(&mut self) -> u32 {
        // A retry paid for before its wait runs now: spent, unless the
        // attempt comes back refused (see `reached_dependency`).
        self.sent = self.paid.take();
        self.attempts += 1;
        self.attempts
    }

    /// Books an attempt that reached the dependency: the first one deposits
    /// into the budget. Attempts an open breaker refused are not booked, so
    /// they neither earn nor spend retries.
    #[inline]
    pub(crate) fn reached_dependency(&mut self) {
        // The running retry reached the dependency: its payment is spent.
        self.sent = None;
        if self.attempts == 1 {
            if let Some(budget) = self.budget {
                budget.deposit();
            }
        }
    }

    /// After a failed attempt classified as `decision`, at `now`: the wait
    /// before the next attempt, or why to stop. A retry's budget withdrawal
    /// happens here, before waiting, so an empty budget stops the call at
    /// once instead of after a sleep; if the retry then never starts, the
    /// withdrawal is refunded when the loop ends (see [`Control`]'s drop).
    #[inline]
    pub(crate) fn after_failure(&mut self, decision: Decision, clock: &impl Clock) -> Next {
        let wait = match decision {
            Decision::DoNotRetry => return Next::Stop(StopReason::NotRetryable),
            Decision::Rejected(retry_in) => {
                // Refused before reaching the dependency: a retry paid for
                // before its wait gets its payment back.
                if let (Some(sent), Some(budget)) = (self.sent.take(), self.budget) {
                    budget.refund(sent);
                }
                return Next::Stop(StopReason::Rejected { retry_in });
            }
            Decision::Retry => None,
            Decision::RetryAfter(asked) => Some(asked.min(self.policy.max_retry_after())),
        };
        if self.attempts >= self.policy.max_attempts() {
            return Next::Stop(StopReason::AttemptsExhausted);
        }
        let wait = match wait {
            Some(wait) => wait,
            None => self.next_backoff(),
        };
        if self.elapsed_limit.is_some() || self.deadline.is_some() {
            let next_start = clock.now().saturating_add(Nanos::from_duration(wait));
            let past_elapsed = self.elapsed_limit.is_some_and(|limit| next_start > limit);
            let past_deadline = self.deadline.is_some_and(|deadline| next_start >= deadline);
            if past_elapsed || past_deadline {
                return Next::Stop(StopReason::Deadline);
            }
        }
        if let Some(budget) = self.budget.filter(|_| !self.defer_withdrawal) {
            match budget.try_withdrawal() {
                Some(paid) => self.paid = Some(paid),
                None => return Next::Stop(StopReason::BudgetExhausted),
            }
        }
        Next::Wait(wait)
    }
}
