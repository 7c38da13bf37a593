//! Breaker interplay: a rejection from an open brace breaker is never
//! retried and never spends retry budget.

use std::cell::Cell;
use std::time::Duration;

use brace::breaker::{CircuitBreaker, Config, Rejected, State};
use brace::retry::{Backoff, Decision, Jitter, Retry, RetryBudget, RetryPolicy, StopReason};
use brace::time::{Clock, ManualClock};
use futures::executor::block_on;

fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy::builder(
        Backoff::constant(Duration::from_millis(10))
            .jitter(Jitter::None)
            .build()
            .unwrap(),
    )
    .max_attempts(attempts)
    .build()
    .unwrap()
}

fn breaker(clock: &ManualClock, failures: u32) -> CircuitBreaker<ManualClock> {
    let config = Config::builder()
        .consecutive_failures(failures)
        .open_duration(Duration::from_secs(30))
        .build()
        .unwrap();
    CircuitBreaker::new(config, clock.clone())
}

fn budget(clock: &ManualClock) -> RetryBudget<ManualClock> {
    RetryBudget::builder()
        .ratio(1.0)
        .min_retries_per_sec(0)
        .build(clock.clone())
        .unwrap()
}

#[test]
fn an_open_breaker_stops_before_the_first_attempt_and_touches_no_budget() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 1);
    breaker.try_acquire().unwrap().record_failure();
    assert_eq!(breaker.state(), State::Open);
    let budget = budget(&clock);
    budget.deposit();
    let calls = Cell::new(0);
    let err = block_on(
        Retry::new(&policy(5), &clock, &clock)
            .budget(&budget)
            .breaker(&breaker)
            .run(|_| {
                calls.set(calls.get() + 1);
                async { Err::<(), _>("down") }
            }),
    )
    .unwrap_err();
    assert_eq!(
        err.reason(),
        StopReason::Rejected {
            retry_in: Some(Duration::from_secs(30))
        }
    );
    assert_eq!(err.attempts(), 0);
    assert_eq!(err.last_error(), None);
    assert_eq!(calls.get(), 0, "the operation never ran");
    assert_eq!(budget.available(), 1, "no deposit, no withdrawal");
    assert_eq!(clock.now().as_duration(), Duration::ZERO, "no wait");
}

#[test]
fn a_breaker_opening_mid_loop_stops_the_retries_without_paying_for_the_refused_one() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 2);
    let budget = budget(&clock);
    for _ in 0..10 {
        budget.deposit();
    }
    let calls = Cell::new(0);
    let err = block_on(
        Retry::new(&policy(5), &clock, &clock)
            .budget(&budget)
            .breaker(&breaker)
            .run(|attempt| {
                calls.set(calls.get() + 1);
                async move { Err::<(), _>(attempt) }
            }),
    )
    .unwrap_err();
    // Attempt 1 fails, attempt 2 (one withdrawal) fails and opens the
    // breaker; the third is refused before the budget is asked.
    assert_eq!(
        err.reason(),
        StopReason::Rejected {
            retry_in: Some(Duration::from_secs(30) - Duration::from_millis(10))
        }
    );
    assert_eq!(err.attempts(), 2);
    assert_eq!(err.last_error(), Some(&2));
    assert_eq!(calls.get(), 2);
    // 10 earlier deposits + this call's deposit, minus exactly one retry.
    assert_eq!(budget.available(), 11 - 1);
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn permits_record_each_attempts_outcome() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 3);
    let out = block_on(
        Retry::new(&policy(3), &clock, &clock)
            .breaker(&breaker)
            .run(|attempt| async move {
                if attempt < 3 {
                    Err("flaky")
                } else {
                    Ok(attempt)
                }
            }),
    );
    assert_eq!(out, Ok(3));
    assert_eq!(breaker.state(), State::Closed);
    // Had the final success not been recorded, the two failures before it
    // plus one more would open the breaker (3 in a row); it stays closed
    // until three fresh failures.
    breaker.try_acquire().unwrap().record_failure();
    assert_eq!(breaker.state(), State::Closed);
    breaker.try_acquire().unwrap().record_failure();
    breaker.try_acquire().unwrap().record_failure();
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn a_rejection_inside_the_operation_classified_as_rejected_is_not_retried() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 1);
    breaker.try_acquire().unwrap().record_failure();
    let budget = budget(&clock);
    budget.deposit();
    let calls = Cell::new(0);
    let err = block_on(
        Retry::new(&policy(5), &clock, &clock)
            .budget(&budget)
            .classify(|e: &Rejected| Decision::from(e))
            .run(|_| {
                calls.set(calls.get() + 1);
                let outcome = breaker.try_acquire().map(|p| p.record_success());
                async move { outcome }
            }),
    )
    .unwrap_err();
    assert!(matches!(
        err.reason(),
        StopReason::Rejected { retry_in: Some(_) }
    ));
    assert_eq!(calls.get(), 1);
    assert_eq!(
        budget.available(),
        1,
        "a refused call neither earns nor spends"
    );
}

#[test]
fn blocking_variant_honours_the_breaker_too() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 1);
    let err = Retry::new(&policy(5), &clock, &clock)
        .breaker(&breaker)
        .run_blocking(|_| Err::<(), _>("down"))
        .unwrap_err();
    assert!(matches!(err.reason(), StopReason::Rejected { .. }));
    assert_eq!(err.attempts(), 1);
}
