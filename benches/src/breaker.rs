//! `compare breaker`: closed-state acquire + record, brace against a bare
//! atomic and the breakers users pick instead; plus brace's open-state
//! rejection.
//!
//! Every contender wraps the same no-op call that succeeds; each is built
//! the way its documentation shows and shared by all threads of a run:
//!
//! * `atomic`: one shared `AtomicU64::fetch_add(1, Relaxed)` per call (the
//!   floor: a single shared counter).
//! * `atomic-per-thread`: a counter of the thread's own, `fetch_add` per
//!   call: shares nothing, so its 2-thread/1-thread ratio is what the
//!   machine itself adds (on the 2-vCPU VM, 1.0-1.5 rather than 1).
//! * `brace-per-thread`: `brace`, with a breaker per thread: the same
//!   instructions sharing nothing, so its 2-thread/1-thread ratio is the
//!   floor for `brace`'s.
//! * `brace`: `Config::default()` (failure rate 50 % over the last 100 calls,
//!   minimum 20) on `SystemClock`; `try_acquire()` then `record_success()`.
//! * `failsafe`: `Config::new().build()` (its default policy: success rate
//!   over a time window or consecutive failures); `call(|| Ok(()))`.
//! * `recloser`: `Recloser::default()` (error rate 50 % over a ring of 100
//!   calls); `call(|| Ok(()))`.
//! * `tower-resilience`: `CircuitBreakerLayer::builder()
//!   .failure_rate_threshold(0.5).sliding_window_size(100).build()` around a
//!   `service_fn` returning a ready `Ok`; per call `ready()` + `call()`,
//!   driven by a minimal thread-parking executor (no runtime needed).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use brace::breaker::{CircuitBreaker, Config};
use brace::time::{Clock, Nanos, SystemClock};
use tower::{Service, ServiceExt};

use crate::harness::{Contender, Measured, Options, measure, median_of, print_ratio, print_table};

/// The peers in the order of the `ratio` lines.
pub const PEERS: [&str; 4] = ["atomic", "failsafe", "recloser", "tower-resilience"];

/// A closed brace breaker as `compare` and the criterion bench configure it.
pub fn brace_closed() -> Arc<CircuitBreaker<SystemClock>> {
    Arc::new(CircuitBreaker::new(Config::default(), SystemClock::new()))
}

/// A brace breaker tripped open for an hour.
pub fn brace_open() -> Arc<CircuitBreaker<SystemClock>> {
    brace_open_on(SystemClock::new())
}

/// A brace breaker on `clock`, tripped open for an hour.
pub fn brace_open_on<C: Clock>(clock: C) -> Arc<CircuitBreaker<C>> {
    let config = Config::builder()
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(3600))
        .build()
        .expect("valid config");
    let breaker = CircuitBreaker::new(config, clock);
    breaker
        .try_acquire()
        .expect("closed at start")
        .record_failure();
    assert!(breaker.try_acquire().is_err(), "the breaker is open");
    Arc::new(breaker)
}

/// `n` closed-state calls through `breaker`. Never inlined: every table
/// that times the closed path runs this one copy of the loop, so they agree
/// (inlined copies differed by up to 2x with code placement alone).
#[inline(never)]
pub fn brace_calls(breaker: &CircuitBreaker<SystemClock>, n: u64) {
    for _ in 0..n {
        match breaker.try_acquire() {
            Ok(permit) => permit.record_success(),
            Err(rejected) => panic!("closed breaker rejected: {rejected}"),
        }
    }
}

/// `n` open-state rejections (one copy of the loop, as above).
#[inline(never)]
pub fn brace_rejections<C: Clock>(breaker: &CircuitBreaker<C>, n: u64) {
    for _ in 0..n {
        black_box(breaker.try_acquire().is_err());
    }
}

fn contenders() -> Vec<Contender> {
    let counter = Arc::new(AtomicU64::new(0));
    let atomic = Contender::new(
        "atomic",
        "one shared AtomicU64, fetch_add(1, Relaxed)",
        move |n| {
            for _ in 0..n {
                black_box(counter.fetch_add(1, Ordering::Relaxed));
            }
        },
    );

    let unshared = Contender::new(
        "atomic-per-thread",
        "an AtomicU64 of the thread's own, fetch_add(1, Relaxed): nothing shared, so its 2-thread/1-thread time is the machine's floor for that ratio",
        move |n| {
            let own = Unshared::default();
            for _ in 0..n {
                black_box(black_box(&own).0.fetch_add(1, Ordering::Relaxed));
            }
        },
    );

    let b = brace_closed();
    let brace = Contender::new(
        "brace",
        "Config::default() (50% over last 100 calls, min 20), SystemClock; try_acquire + record_success",
        move |n| brace_calls(&b, n),
    );

    let brace_own = Contender::new(
        "brace-per-thread",
        "brace, but each thread has a breaker of its own: nothing shared, so its 2-thread/1-thread time is the machine's floor for brace's own instructions",
        |n| brace_calls(&brace_closed(), n),
    );

    let fs = failsafe::Config::new().build();
    let failsafe = Contender::new(
        "failsafe",
        "failsafe::Config::new().build() (default policy); call(|| Ok(()))",
        move |n| {
            use failsafe::CircuitBreaker as _;
            for _ in 0..n {
                black_box(fs.call(|| black_box(Ok::<(), ()>(()))).is_ok());
            }
        },
    );

    let rc = Arc::new(recloser::Recloser::default());
    let recloser = Contender::new(
        "recloser",
        "Recloser::default() (50% over ring of 100); call(|| Ok(()))",
        move |n| {
            for _ in 0..n {
                black_box(rc.call(|| black_box(Ok::<(), ()>(()))).is_ok());
            }
        },
    );

    let layer = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(100)
        .build()
        .expect("valid tower-resilience config");
    let inner = tower::service_fn(|x: u64| std::future::ready(Ok::<u64, ()>(x)));
    let svc = tower::Layer::layer(&layer, inner);
    let tower = Contender::new(
        "tower-resilience",
        "CircuitBreakerLayer, failure_rate_threshold(0.5), sliding_window_size(100); ready() + call() per op",
        move |n| {
            let mut svc = svc.clone();
            let waker = thread_waker();
            for i in 0..n {
                let out = block_on(&waker, async {
                    svc.ready().await.expect("ready").call(i).await
                });
                black_box(out.is_ok());
            }
        },
    );
    vec![
        atomic, unshared, brace, brace_own, failsafe, recloser, tower,
    ]
}

/// A counter alone on its cache lines.
#[derive(Default)]
#[repr(align(128))]
struct Unshared(AtomicU64);

/// Runs the breaker area: a table per thread count, the open-state table,
/// then the `ratio` lines.
pub fn run(opts: &Options) {
    println!("## breaker: closed-state acquire + record success");
    let contenders = contenders();
    let mut by_threads: Vec<(usize, Vec<Measured>)> = Vec::new();
    for threads in [1, 2] {
        let results = measure(&contenders, threads, opts);
        print_table(
            &format!("closed, {threads} thread(s), ns per call per thread"),
            &results,
            "brace",
        );
        by_threads.push((threads, results));
    }

    let closed = brace_closed();
    let open = brace_open();
    let ticked = brace_open_on(TickedClock::started());
    let paths = [
        Contender::new("brace-closed", "acquire + record_success", move |n| {
            brace_calls(&closed, n)
        }),
        Contender::new(
            "brace-open",
            "try_acquire rejected against SystemClock::recent (one CLOCK_MONOTONIC_COARSE read on Linux)",
            move |n| brace_rejections(&open, n),
        ),
        Contender::new(
            "brace-open-ticked",
            "try_acquire rejected on a clock whose recent() is a value a timer thread of the application refreshes every ms (the `Clock::recent` doc example)",
            move |n| brace_rejections(&ticked, n),
        ),
    ];
    for threads in [1, 2] {
        let results = measure(&paths, threads, opts);
        print_table(
            &format!("brace open-state rejection vs closed path, {threads} thread(s)"),
            &results,
            "brace-open",
        );
    }

    println!();
    for (threads, results) in &by_threads {
        let brace = median_of(results, "brace");
        for peer in PEERS {
            print_ratio(
                "breaker",
                &format!("{threads}t"),
                peer,
                brace / median_of(results, peer),
            );
        }
    }
    let one = median_of(&by_threads[0].1, "brace");
    let two = median_of(&by_threads[1].1, "brace");
    print_ratio("breaker", "2t", "brace-1t", two / one);
    for floor in ["atomic-per-thread", "brace-per-thread"] {
        let x = median_of(&by_threads[1].1, floor) / median_of(&by_threads[0].1, floor);
        println!(
            "(not a brace ratio) {floor} 2t/1t = {x:.3}: what 2 threads add to code that shares nothing"
        );
    }
}

/// `SystemClock`, with `recent()` read from a value a thread of the
/// benchmark (standing in for the application) refreshes every millisecond.
#[derive(Debug, Clone)]
pub struct TickedClock {
    system: SystemClock,
    last: Arc<AtomicU64>,
}

impl TickedClock {
    /// Starts the refreshing thread (it runs until the process exits).
    pub fn started() -> Self {
        let clock = TickedClock {
            system: SystemClock::new(),
            last: Arc::default(),
        };
        let ticker = clock.clone();
        ticker.tick();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(1));
                ticker.tick();
            }
        });
        clock
    }

    fn tick(&self) {
        self.last
            .fetch_max(self.system.now().as_u64(), Ordering::Relaxed);
    }
}

impl Clock for TickedClock {
    fn now(&self) -> Nanos {
        self.system.now()
    }

    fn recent(&self) -> Nanos {
        Nanos::new(self.last.load(Ordering::Relaxed))
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A waker that unparks the current thread.
pub fn thread_waker() -> Waker {
    Waker::from(Arc::new(ThreadWaker(std::thread::current())))
}

/// Polls `fut` to completion on this thread, parking while it is pending.
pub fn block_on<F: Future>(waker: &Waker, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}
