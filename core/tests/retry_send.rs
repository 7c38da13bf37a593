//! The async executor's future can be spawned on a multi-threaded runtime.
//! It could not: `Retry` held its budget as a `&dyn` reference whose trait
//! had no `Sync` bound, so every `Retry::run` future was `!Send`, with or
//! without a budget. This file did not compile then.

use std::time::Duration;

use brace::breaker::{CircuitBreaker, Config};
use brace::retry::{Backoff, Retry, RetryBudget, RetryPolicy};
use brace::time::ManualClock;

/// Compiles only for a `Send` value.
fn assert_send<T: Send>(_: &T) {}

/// `Retry::run` must be spawnable (`tokio::spawn`, axum handlers,
/// `async_trait`) whenever the operation, classifier, clock, sleeper and
/// budget are.
#[test]
fn the_async_executors_future_is_send() {
    let clock = ManualClock::new();
    let policy = RetryPolicy::builder(Backoff::constant(Duration::from_millis(1)).build().unwrap())
        .build()
        .unwrap();
    let plain = Retry::new(&policy, &clock, &clock).run(|_| async { Ok::<u32, ()>(1) });
    assert_send(&plain);

    let budget = RetryBudget::builder().build(clock.clone()).unwrap();
    let breaker = CircuitBreaker::new(Config::default(), clock.clone());
    let full = Retry::new(&policy, &clock, &clock)
        .budget(&budget)
        .breaker(&breaker)
        .run(|_| async { Ok::<u32, ()>(1) });
    assert_send(&full);
}
