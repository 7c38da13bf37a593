//! Criterion: brace's breaker hot paths at 1 and 2 threads.
//!
//! * closed, count window: `Config::default()`, acquire + record success;
//! * closed, time window: 50 % over 10 s in 10 buckets (reads the clock's
//!   cached `recent()` on every record);
//! * open: `try_acquire` rejected (reads `recent()`).
//!
//! Two-thread cases time `iters` operations on each of two threads released
//! together and report the wall time, i.e. the per-thread cost per call.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use brace::breaker::{CircuitBreaker, Config};
use brace::time::SystemClock;
use brace_benches::breaker::{brace_calls, brace_closed, brace_open, brace_rejections};
use criterion::{Criterion, criterion_group, criterion_main};

type Breaker = Arc<CircuitBreaker<SystemClock>>;

/// `n` operations on a breaker.
type Op = fn(&CircuitBreaker<SystemClock>, u64);

fn time_window() -> Breaker {
    let config = Config::builder()
        .failure_rate(0.5)
        .time_window(Duration::from_secs(10), 10)
        .build()
        .expect("valid config");
    Arc::new(CircuitBreaker::new(config, SystemClock::new()))
}

/// Wall time for `threads` threads each running `op(breaker, iters)`.
fn timed(threads: usize, breaker: &Breaker, iters: u64, op: Op) -> Duration {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (b, barrier) = (Arc::clone(breaker), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                op(&b, iters);
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    handles
        .into_iter()
        .for_each(|h| h.join().expect("bench thread"));
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let cases: [(&str, Breaker, Op); 3] = [
        ("closed_count_window", brace_closed(), brace_calls),
        ("closed_time_window", time_window(), brace_calls),
        ("open_rejection", brace_open(), brace_rejections),
    ];
    let mut group = c.benchmark_group("breaker");
    for (name, breaker, op) in &cases {
        group.bench_function(format!("{name}/1t"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                op(black_box(breaker), iters);
                start.elapsed()
            })
        });
        group.bench_function(format!("{name}/2t"), |b| {
            b.iter_custom(|iters| timed(2, breaker, iters, *op))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
