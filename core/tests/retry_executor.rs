//! The retry executor on virtual time: every stop reason, Retry-After
//! capping, the deadline, budget bookkeeping and the blocking variant.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use brace::retry::{
    Backoff, Decision, Jitter, Retry, RetryBudget, RetryError, RetryPolicy, StopReason,
};
use brace::time::{Clock, ManualClock, Nanos};
use futures::executor::block_on;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn policy(attempts: u32, delay: Duration) -> RetryPolicy {
    RetryPolicy::builder(
        Backoff::constant(delay)
            .jitter(Jitter::None)
            .build()
            .unwrap(),
    )
    .max_attempts(attempts)
    .build()
    .unwrap()
}

/// A budget with no floor: exactly `ratio` retries per first attempt.
fn tight_budget(clock: &ManualClock, ratio: f64) -> RetryBudget<ManualClock> {
    RetryBudget::builder()
        .ratio(ratio)
        .min_retries_per_sec(0)
        .stripes(1)
        .build(clock.clone())
        .unwrap()
}

#[test]
fn success_on_the_first_attempt_neither_waits_nor_retries() {
    let clock = ManualClock::new();
    let calls = Cell::new(0);
    let out: Result<_, RetryError<()>> = block_on(
        Retry::new(&policy(5, ms(10)), &clock, &clock).run(|attempt| {
            calls.set(calls.get() + 1);
            async move { Ok(attempt) }
        }),
    );
    assert_eq!(out, Ok(1));
    assert_eq!(calls.get(), 1);
    assert_eq!(clock.now(), Nanos::ZERO);
}

#[test]
fn retries_until_success_waiting_the_backoff_between_attempts() {
    let clock = ManualClock::new();
    let seen = RefCell::new(Vec::new());
    let out = block_on(
        Retry::new(&policy(5, ms(10)), &clock, &clock).run(|attempt| {
            seen.borrow_mut().push((attempt, clock.now()));
            async move {
                if attempt < 3 {
                    Err("flaky")
                } else {
                    Ok("done")
                }
            }
        }),
    );
    assert_eq!(out, Ok("done"));
    let at = |n: u64| Nanos::from_duration(ms(n));
    assert_eq!(*seen.borrow(), [(1, at(0)), (2, at(10)), (3, at(20))]);
}

#[test]
fn stops_with_attempts_exhausted_and_the_last_error() {
    let clock = ManualClock::new();
    let err = block_on(
        Retry::new(&policy(3, ms(10)), &clock, &clock)
            .run(|attempt| async move { Err::<(), _>(attempt * 100) }),
    )
    .unwrap_err();
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.last_error(), Some(&300));
    // Two waits, none after the last attempt.
    assert_eq!(clock.now().as_duration(), ms(20));
}

#[test]
fn stops_at_once_on_a_non_retryable_error() {
    let clock = ManualClock::new();
    let err = block_on(
        Retry::new(&policy(5, ms(10)), &clock, &clock)
            .classify(|e: &u16| {
                if *e == 404 {
                    Decision::DoNotRetry
                } else {
                    Decision::Retry
                }
            })
            .run(|attempt| async move { Err::<(), u16>(if attempt == 1 { 503 } else { 404 }) }),
    )
    .unwrap_err();
    assert_eq!(err.reason(), StopReason::NotRetryable);
    assert_eq!(err.attempts(), 2);
    assert_eq!(err.into_last_error(), Some(404));
}

#[test]
fn stops_when_the_budget_is_empty_and_books_deposits_and_withdrawals() {
    let clock = ManualClock::new();
    let budget = tight_budget(&clock, 0.5);
    let run = || {
        block_on(
            Retry::new(&policy(10, ms(1)), &clock, &clock)
                .budget(&budget)
                .run(|_| async { Err::<(), _>("down") }),
        )
        .unwrap_err()
    };
    // First call: its own deposit earns half a retry: no retry at all.
    let first = run();
    assert_eq!(first.reason(), StopReason::BudgetExhausted);
    assert_eq!(first.attempts(), 1);
    // Second call: two deposits = one retry.
    let second = run();
    assert_eq!(second.reason(), StopReason::BudgetExhausted);
    assert_eq!(second.attempts(), 2);
    assert_eq!(budget.available(), 0);
}

#[test]
fn a_budget_refusal_happens_before_waiting() {
    let clock = ManualClock::new();
    let budget = tight_budget(&clock, 0.0);
    let err = block_on(
        Retry::new(&policy(3, Duration::from_secs(5)), &clock, &clock)
            .budget(&budget)
            .run(|_| async { Err::<(), _>("down") }),
    )
    .unwrap_err();
    assert_eq!(err.reason(), StopReason::BudgetExhausted);
    assert_eq!(
        clock.now(),
        Nanos::ZERO,
        "no sleep for a retry that cannot happen"
    );
}

#[test]
fn retry_after_is_honoured_below_the_cap_and_capped_above_it() {
    let clock = ManualClock::new();
    let policy = RetryPolicy::builder(
        Backoff::constant(ms(1))
            .jitter(Jitter::None)
            .build()
            .unwrap(),
    )
    .max_attempts(3)
    .max_retry_after(Duration::from_secs(5))
    .build()
    .unwrap();
    let starts = RefCell::new(Vec::new());
    let out = block_on(
        Retry::new(&policy, &clock, &clock)
            .classify(|asked: &Duration| Decision::RetryAfter(*asked))
            .run(|attempt| {
                starts.borrow_mut().push(clock.now().as_duration());
                async move {
                    match attempt {
                        1 => Err(Duration::from_secs(2)),
                        2 => Err(Duration::from_secs(600)),
                        _ => Ok(()),
                    }
                }
            }),
    );
    assert_eq!(out, Ok(()));
    assert_eq!(
        *starts.borrow(),
        [
            Duration::ZERO,
            Duration::from_secs(2),
            Duration::from_secs(7)
        ]
    );
}

#[test]
fn never_sleeps_past_the_callers_deadline() {
    let clock = ManualClock::new();
    let slept = RefCell::new(Vec::new());
    let sleeper = |d: Duration| {
        slept.borrow_mut().push(d);
        clock.advance(d);
        std::future::ready(())
    };
    let err = block_on(
        Retry::new(&policy(10, ms(40)), &clock, &sleeper)
            .deadline(Nanos::from_duration(ms(100)))
            .run(|_| async { Err::<(), _>("slow") }),
    )
    .unwrap_err();
    // Attempts at 0, 40 and 80 ms; the next would start at 120 ms > 100 ms.
    assert_eq!(err.reason(), StopReason::Deadline);
    assert_eq!(err.attempts(), 3);
    assert_eq!(*slept.borrow(), [ms(40), ms(40)]);
    assert!(clock.now().as_duration() <= ms(100));
}

#[test]
fn the_deadline_counts_time_spent_inside_attempts() {
    let clock = ManualClock::new();
    let err = block_on(
        Retry::new(&policy(10, ms(10)), &clock, &clock)
            .deadline_in(ms(100))
            .run(|_| {
                clock.advance(ms(45)); // each attempt takes 45 ms
                async { Err::<(), _>("slow") }
            }),
    )
    .unwrap_err();
    // 0-45, wait to 55, 55-100: at 100 ms nothing more may start.
    assert_eq!(err.reason(), StopReason::Deadline);
    assert_eq!(err.attempts(), 2);
}

/// Attempts made against an always-failing call with a constant `backoff`
/// and `max_elapsed(100 ms)`, and why the loop stopped.
fn attempts_within_100ms(backoff: Duration) -> u32 {
    let clock = ManualClock::starting_at(Nanos::from_duration(Duration::from_secs(1000)));
    let policy = RetryPolicy::builder(
        Backoff::constant(backoff)
            .jitter(Jitter::None)
            .build()
            .unwrap(),
    )
    .max_attempts(100)
    .max_elapsed(ms(100))
    .build()
    .unwrap();
    let err = block_on(Retry::new(&policy, &clock, &clock).run(|_| async { Err::<(), _>("down") }))
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    err.attempts()
}

#[test]
fn max_elapsed_limits_like_a_deadline() {
    assert_eq!(attempts_within_100ms(ms(30)), 4); // at 0, 30, 60, 90 ms
}

#[test]
fn an_attempt_may_start_exactly_at_max_elapsed() {
    // "No attempt starts later than max_elapsed after the first": one at
    // 100 ms is allowed, as in the tower and reqwest adapters.
    assert_eq!(attempts_within_100ms(ms(25)), 5); // at 0, 25, 50, 75, 100 ms
}

#[test]
fn a_breaker_rejection_is_never_retried_and_spends_no_budget() {
    let clock = ManualClock::new();
    let budget = tight_budget(&clock, 1.0);
    budget.deposit();
    assert_eq!(budget.available(), 1);
    #[derive(Debug, PartialEq)]
    enum CallError {
        CircuitOpen(Duration),
    }
    let classify = |e: &CallError| match e {
        CallError::CircuitOpen(wait) => Decision::Rejected(Some(*wait)),
    };
    // Refused on the first attempt: nothing retried, nothing deposited.
    let calls = Cell::new(0);
    let err = block_on(
        Retry::new(&policy(5, ms(10)), &clock, &clock)
            .budget(&budget)
            .classify(classify)
            .run(|_| {
                calls.set(calls.get() + 1);
                async { Err::<(), _>(CallError::CircuitOpen(ms(250))) }
            }),
    )
    .unwrap_err();
    assert_eq!(
        err.reason(),
        StopReason::Rejected {
            retry_in: Some(ms(250))
        }
    );
    assert_eq!(err.attempts(), 1);
    assert_eq!(calls.get(), 1);
    assert_eq!(budget.available(), 1, "budget untouched");
    assert_eq!(clock.now(), Nanos::ZERO, "no wait");
}

#[test]
fn the_seed_makes_jittered_waits_reproducible() {
    let run = |seed| {
        let clock = ManualClock::new();
        let backoff = Backoff::exponential(ms(10), 2.0)
            .jitter(Jitter::Full)
            .build()
            .unwrap();
        let policy = RetryPolicy::builder(backoff)
            .max_attempts(6)
            .build()
            .unwrap();
        let _ = block_on(
            Retry::new(&policy, &clock, &clock)
                .seed(seed)
                .run(|_| async { Err::<(), _>(()) }),
        );
        clock.now()
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn dropping_the_future_mid_wait_starts_no_more_attempts() {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll};

    let clock = ManualClock::new();
    let calls = Cell::new(0);
    let never = |_d: Duration| std::future::pending::<()>();
    let policy = policy(5, ms(10));
    {
        let fut = Retry::new(&policy, &clock, &never).run(|_| {
            calls.set(calls.get() + 1);
            async { Err::<(), _>("down") }
        });
        let mut fut = pin!(fut);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Pending));
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Pending));
    }
    assert_eq!(calls.get(), 1);
}

#[test]
fn blocking_variant_follows_the_same_rules() {
    let clock = ManualClock::new();
    let budget = tight_budget(&clock, 1.0);
    let out = Retry::new(&policy(4, ms(10)), &clock, &clock)
        .budget(&budget)
        .run_blocking(|attempt| {
            if attempt < 2 {
                Err("flaky")
            } else {
                Ok(attempt)
            }
        });
    assert_eq!(out, Ok(2));
    assert_eq!(clock.now().as_duration(), ms(10));
    let err = Retry::new(&policy(4, ms(10)), &clock, &clock)
        .classify(|_: &&str| Decision::DoNotRetry)
        .run_blocking(|_| Err::<(), _>("bad"))
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::NotRetryable);
    assert_eq!(err.attempts(), 1);
}

#[test]
fn errors_read_as_sentences() {
    let err = RetryError::new(StopReason::BudgetExhausted, 1, Some("refused"));
    assert_eq!(
        err.to_string(),
        "gave up after 1 attempt: the retry budget is empty; last error: refused"
    );
    let open = StopReason::Rejected {
        retry_in: Some(ms(5)),
    };
    assert_eq!(open.to_string(), "the circuit is open for another 5ms");
}

#[test]
fn a_deadline_already_passed_starts_no_attempt() {
    let clock = ManualClock::starting_at(Nanos::from_duration(Duration::from_secs(10)));
    let calls = Cell::new(0);
    let out: Result<(), RetryError<&str>> = block_on(
        Retry::new(&policy(3, ms(10)), &clock, &clock)
            .deadline(Nanos::from_duration(Duration::from_secs(5)))
            .run(|_| {
                calls.set(calls.get() + 1);
                async { Err("down") }
            }),
    );
    assert_eq!(calls.get(), 0, "an attempt started after the deadline");
    let err = out.unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    assert_eq!(err.attempts(), 0);
    assert!(err.last_error().is_none());
}

#[test]
fn a_deadline_of_now_starts_no_attempt() {
    let clock = ManualClock::new();
    let calls = Cell::new(0);
    let out = Retry::new(&policy(3, ms(10)), &clock, &clock)
        .deadline_in(Duration::ZERO)
        .run_blocking(|_| {
            calls.set(calls.get() + 1);
            Err::<(), _>("down")
        });
    assert_eq!(calls.get(), 0);
    assert_eq!(out.unwrap_err().reason(), StopReason::Deadline);
}

#[test]
fn an_overslept_wait_starts_no_attempt_past_the_deadline() {
    // Each wait overruns by 25 ms: planned to end at 40 ms, before the
    // 50 ms deadline, it ends at 65 ms.
    let clock = ManualClock::new();
    let oversleep = |d: Duration| clock.advance(d + ms(25));
    let starts = RefCell::new(Vec::new());
    let out = Retry::new(&policy(5, ms(40)), &clock, &oversleep)
        .deadline(Nanos::from_duration(ms(50)))
        .run_blocking(|_| {
            starts.borrow_mut().push(clock.now());
            Err::<(), _>("down")
        });
    assert_eq!(*starts.borrow(), [Nanos::ZERO]);
    let err = out.unwrap_err();
    assert_eq!((err.reason(), err.attempts()), (StopReason::Deadline, 1));
    assert_eq!(err.last_error(), Some(&"down"));

    let clock = ManualClock::new();
    let oversleep = |d: Duration| clock.advance(d + ms(25));
    let limited = RetryPolicy::builder(
        Backoff::constant(ms(40))
            .jitter(Jitter::None)
            .build()
            .unwrap(),
    )
    .max_attempts(5)
    .max_elapsed(ms(50))
    .build()
    .unwrap();
    // `max_elapsed` bounds planning: the retry planned for 40 ms is made
    // at 65 ms, and none is planned after it (65 + 40 > 50).
    let attempts = Cell::new(0);
    let out = Retry::new(&limited, &clock, &oversleep).run_blocking(|_| {
        attempts.set(attempts.get() + 1);
        Err::<(), _>("down")
    });
    assert_eq!(attempts.get(), 2);
    assert_eq!(out.unwrap_err().reason(), StopReason::Deadline);
}

#[test]
fn a_retry_dropped_during_its_wait_gets_its_budget_back() {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll};

    let clock = ManualClock::new();
    let budget = tight_budget(&clock, 1.0);
    let never = |_d: Duration| std::future::pending::<()>();
    let policy = policy(5, ms(10));
    {
        let fut = Retry::new(&policy, &clock, &never)
            .budget(&budget)
            .run(|_| async { Err::<(), _>("down") });
        let mut fut = pin!(fut);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Pending));
        // One deposit, and the retry it paid for is waiting.
        assert_eq!(budget.available(), 0);
    }
    assert_eq!(budget.available(), 1, "the retry never ran: refunded");
}

#[test]
fn a_retry_stopped_by_the_deadline_after_its_wait_gets_its_budget_back() {
    let clock = ManualClock::new();
    let budget = tight_budget(&clock, 1.0);
    let oversleep = |d: Duration| clock.advance(d + ms(25));
    let out = Retry::new(&policy(5, ms(40)), &clock, &oversleep)
        .budget(&budget)
        .deadline(Nanos::from_duration(ms(50)))
        .run_blocking(|_| Err::<(), _>("down"));
    assert_eq!(out.unwrap_err().reason(), StopReason::Deadline);
    assert_eq!(budget.available(), 1, "the retry never ran: refunded");

    // A retry that runs is spent.
    let clock = ManualClock::new();
    let budget = tight_budget(&clock, 1.0);
    let sleep = |d: Duration| clock.advance(d);
    let out = Retry::new(&policy(2, ms(40)), &clock, &sleep)
        .budget(&budget)
        .run_blocking(|_| Err::<(), _>("down"));
    assert_eq!(out.unwrap_err().reason(), StopReason::AttemptsExhausted);
    assert_eq!(budget.available(), 0);
}

#[test]
fn a_retry_refused_by_a_breaker_inside_the_operation_gets_its_budget_back() {
    // The first attempt fails (a deposit, and the retry is paid for); the
    // retry comes back refused by a breaker the operation calls through.
    // With a breaker attached to the loop too, the payment waits for its
    // permit; a refusal from further inside is refunded the same way.
    #[derive(Debug)]
    enum CallError {
        Down,
        CircuitOpen,
    }
    let classify = |e: &CallError| match e {
        CallError::Down => Decision::Retry,
        CallError::CircuitOpen => Decision::Rejected(None),
    };
    for loop_breaker in [false, true] {
        let clock = ManualClock::new();
        let budget = tight_budget(&clock, 1.0);
        let breaker =
            brace::breaker::CircuitBreaker::new(brace::breaker::Config::default(), clock.clone());
        let sleep = |d: Duration| clock.advance(d);
        let policy = policy(5, ms(10));
        let retry = Retry::new(&policy, &clock, &sleep)
            .budget(&budget)
            .classify(classify);
        let refused = |attempt: u32| {
            Err::<(), _>(if attempt == 1 {
                CallError::Down
            } else {
                CallError::CircuitOpen
            })
        };
        let err = if loop_breaker {
            retry.breaker(&breaker).run_blocking(refused)
        } else {
            retry.run_blocking(refused)
        }
        .unwrap_err();
        assert_eq!(err.reason(), StopReason::Rejected { retry_in: None });
        assert_eq!(err.attempts(), 2);
        assert_eq!(
            budget.available(),
            1,
            "loop breaker {loop_breaker}: refunded"
        );
    }
}
