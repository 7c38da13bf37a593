//! Criterion micro-benchmarks of brace's retry primitives: a backoff delay,
//! an executor call that succeeds at once and one that fails twice, and a
//! budget deposit + withdraw.

use std::hint::black_box;
use std::time::Duration;

use brace::retry::{Backoff, Jitter, Retry, RetryBudget, RetryPolicy};
use brace::time::{ManualClock, SystemClock};
use criterion::{Criterion, criterion_group, criterion_main};

fn backoff(c: &mut Criterion) {
    let backoff = Backoff::exponential(Duration::from_millis(10), 2.0)
        .max_delay(Duration::from_secs(10))
        .jitter(Jitter::Decorrelated)
        .build()
        .unwrap();
    let mut delays = backoff.delays_seeded(1);
    c.bench_function("retry/backoff_next_decorrelated", |b| {
        b.iter(|| black_box(delays.next()))
    });
}

fn executor(c: &mut Criterion) {
    let clock = ManualClock::new();
    let policy = RetryPolicy::builder(Backoff::none())
        .max_attempts(3)
        .build()
        .unwrap();
    for (name, failures) in [
        ("retry/run_blocking_ok", 0u32),
        ("retry/run_blocking_fail2", 2),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                Retry::new(&policy, &clock, &clock).run_blocking(|attempt| {
                    if attempt <= black_box(failures) {
                        Err(())
                    } else {
                        Ok(attempt)
                    }
                })
            })
        });
    }
}

fn budget(c: &mut Criterion) {
    let budget = RetryBudget::builder().build(SystemClock::new()).unwrap();
    c.bench_function("retry/budget_deposit_withdraw", |b| {
        b.iter(|| {
            budget.deposit();
            black_box(budget.try_withdraw())
        })
    });
}

criterion_group!(benches, backoff, executor, budget);
criterion_main!(benches);
