//! `compare retry`: the retry executor's per-call overhead against backon and
//! tower-resilience's retry, and the retry budget against tower's
//! `TpsBudget`.
//!
//! * `ok`: an operation that succeeds at once (one attempt per call).
//! * `fail2`: an operation that fails twice and succeeds on the third
//!   attempt (three attempts, two retries per call).
//! * `budget-1t` / `budget-2t`: one `deposit` and one `try_withdraw` per
//!   operation on one shared budget, from 1 and from 2 threads.
//!
//! Every executor waits zero between attempts, so the table times the
//! retry machinery, not sleeping. All three executors run inside one
//! current-thread tokio runtime (paused clock), one `block_on` per batch.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use backon::{ConstantBuilder, Retryable};
use brace::retry::{Backoff, Retry, RetryBudget, RetryPolicy};
use brace::time::SystemClock;
use tower::retry::budget::{Budget, TpsBudget};
use tower::{Layer, Service, ServiceExt};
use tower_resilience::retry::RetryLayer;

use crate::harness::{Contender, Measured, Options, measure, median_of, print_ratio, print_table};

/// The error every failing attempt returns.
#[derive(Debug, Clone, Copy)]
struct Fail;

thread_local! {
    /// Attempts of the current call, for the peers whose operation is not
    /// told its attempt number.
    static ATTEMPT: Cell<u32> = const { Cell::new(0) };
}

/// One attempt of an operation that fails `failures` times, then succeeds.
fn attempt_counted(failures: u32) -> Result<u32, Fail> {
    let n = ATTEMPT.with(|a| {
        a.set(a.get() + 1);
        a.get()
    });
    if n <= failures { Err(Fail) } else { Ok(n) }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("tokio runtime")
}

fn brace_executor(failures: u32) -> Contender {
    let rt = runtime();
    let policy = RetryPolicy::builder(Backoff::none())
        .max_attempts(3)
        .build()
        .expect("valid policy");
    let clock = SystemClock::new();
    Contender::new(
        "brace",
        "Retry::run, Backoff::none() (zero waits are skipped), max_attempts 3, no budget",
        move |n| {
            rt.block_on(async {
                let sleeper = |d: Duration| tokio::time::sleep(d);
                for _ in 0..n {
                    let out = Retry::new(&policy, &clock, &sleeper)
                        .run(|attempt| async move {
                            if attempt <= black_box(failures) {
                                Err(Fail)
                            } else {
                                Ok(attempt)
                            }
                        })
                        .await;
                    black_box(out.ok());
                }
            })
        },
    )
}

fn backon_executor(failures: u32) -> Contender {
    let rt = runtime();
    Contender::new(
        "backon",
        "Retryable::retry(ConstantBuilder delay 0, max_times 2), sleeper = ready future",
        move |n| {
            rt.block_on(async {
                let backoff = ConstantBuilder::new()
                    .with_delay(Duration::ZERO)
                    .with_max_times(2);
                for _ in 0..n {
                    ATTEMPT.with(|a| a.set(0));
                    let out = (|| async { attempt_counted(black_box(failures)) })
                        .retry(backoff)
                        .sleep(|_| std::future::ready(()))
                        .await;
                    black_box(out.ok());
                }
            })
        },
    )
}

fn tower_resilience_executor(failures: u32) -> Contender {
    let rt = runtime();
    Contender::new(
        "tower-resilience",
        "RetryLayer max_attempts 3, fixed_backoff(0) (it always awaits tokio::time::sleep), service_fn, ready()+call per request",
        move |n| {
            rt.block_on(async {
                let layer = RetryLayer::<u32, u32, Fail>::builder()
                    .max_attempts(3)
                    .fixed_backoff(Duration::ZERO)
                    .build();
                let mut svc = layer.layer(tower::service_fn(move |_req: u32| async move {
                    attempt_counted(black_box(failures))
                }));
                for _ in 0..n {
                    ATTEMPT.with(|a| a.set(0));
                    let ready = svc.ready().await.expect("always ready");
                    black_box(ready.call(0).await.ok());
                }
            })
        },
    )
}

fn brace_budget() -> Contender {
    let budget = Arc::new(
        RetryBudget::builder()
            .ratio(0.2)
            .min_retries_per_sec(10)
            .ttl(Duration::from_secs(10))
            .build(SystemClock::new())
            .expect("valid budget"),
    );
    Contender::new(
        "brace",
        "RetryBudget ratio 0.2, 10/s, ttl 10 s, 8 stripes, SystemClock",
        move |n| {
            for _ in 0..n {
                budget.deposit();
                black_box(budget.try_withdraw());
            }
        },
    )
}

fn tps_budget() -> Contender {
    let budget = Arc::new(TpsBudget::new(Duration::from_secs(10), 10, 0.2));
    Contender::new(
        "tps-budget",
        "tower::retry::budget::TpsBudget::new(10 s, 10/s, 0.2)",
        move |n| {
            for _ in 0..n {
                budget.deposit();
                black_box(budget.withdraw());
            }
        },
    )
}

/// Runs the retry area and prints its tables and `ratio` lines.
pub fn run(opts: &Options) {
    println!("\n## retry\n");
    println!("Executors wait zero between attempts (sleeping is not what is timed); ns per call.");
    let mut ratios: Vec<(&str, &str, f64)> = Vec::new();
    for (case, failures) in [("ok", 0), ("fail2", 2)] {
        let contenders = [
            brace_executor(failures),
            backon_executor(failures),
            tower_resilience_executor(failures),
        ];
        let results = measure(&contenders, 1, opts);
        print_table(&format!("retry {case}: ns per call"), &results, "brace");
        for peer in ["backon", "tower-resilience"] {
            ratios.push((case, peer, ratio(&results, peer)));
        }
    }
    for (case, threads) in [("budget-1t", 1), ("budget-2t", 2)] {
        let contenders = [brace_budget(), tps_budget()];
        let results = measure(&contenders, threads, opts);
        print_table(
            &format!("retry {case}: ns per deposit + withdraw, {threads} thread(s)"),
            &results,
            "brace",
        );
        ratios.push((case, "tps-budget", ratio(&results, "tps-budget")));
    }
    println!();
    for (case, peer, x) in ratios {
        print_ratio("retry", case, peer, x);
    }
}

fn ratio(results: &[Measured], peer: &str) -> f64 {
    median_of(results, "brace") / median_of(results, peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_executor_runs_the_fail_twice_operation_to_success() {
        for c in [
            brace_executor(2),
            backon_executor(2),
            tower_resilience_executor(2),
        ] {
            (c.run)(3);
        }
        ATTEMPT.with(|a| a.set(0));
        assert!(attempt_counted(1).is_err());
        assert_eq!(attempt_counted(1).ok(), Some(2));
    }

    #[test]
    fn budgets_grant_about_a_fifth_of_deposits() {
        let budget = RetryBudget::builder()
            .min_retries_per_sec(0)
            .build(SystemClock::new())
            .unwrap();
        let granted = (0..1000)
            .filter(|_| {
                budget.deposit();
                budget.try_withdraw()
            })
            .count();
        assert_eq!(granted, 200);
    }
}
