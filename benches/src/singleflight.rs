//! `compare singleflight`: brace's [`Group`] against `async_singleflight`
//! and moka's `future::Cache::try_get_with` (the peers DESIGN.md names).
//!
//! Timed cases (ns per operation, interleaved rounds):
//!
//! * `uncontended-<T>t`: each of `T` threads runs work on its own key, one
//!   caller at a time; the work is ready at once. This is the fixed cost of
//!   a miss going through single-flight.
//! * `waiters-<N>`: one thread opens a flight for one key with `N` callers:
//!   all `N` are polled (the first leads; its work waits on a gate), the
//!   gate opens, every caller is polled to its value. One operation is one
//!   whole flight.
//!
//! A stampede report follows, on a 2-worker tokio runtime: 256 tasks ask for
//! one cold key at once, the loader takes 20 ms; it prints how many times
//! the loader ran and the callers' wait p50/p99, first plainly and then with
//! the leader wrapped in a 5 ms timeout (a 2 s watchdog counts hung tasks).
//!
//! moka is a cache, so its single-flight path also stores the value; each of
//! its operations ends with `invalidate` so the next one is a miss again,
//! which is what a caller needs to get single-flight without caching.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use brace::singleflight::Group;

use crate::harness::{Contender, Options, measure, median_of, print_ratio, print_table};

const AREA: &str = "singleflight";
const MOKA_CAPACITY: u64 = 1024;

type BraceGroup = Group<u64, u64, ()>;
type PeerGroup = async_singleflight::Group<u64, u64, ()>;
type MokaCache = moka::future::Cache<u64, u64>;

/// Runs every case and prints its tables and `ratio` lines.
pub fn run(opts: &Options) {
    for threads in [1, 2] {
        let case = format!("uncontended-{threads}t");
        let results = measure(&uncontended(), threads, opts);
        report(&case, &results);
    }
    for waiters in [8, 64] {
        let case = format!("waiters-{waiters}");
        let results = measure(&flight_of(waiters), 1, opts);
        report(&case, &results);
    }
    stampede_report(opts);
}

fn report(case: &str, results: &[crate::harness::Measured]) {
    print_table(&format!("singleflight {case}"), results, "brace");
    let brace = median_of(results, "brace");
    for peer in ["async_singleflight", "moka"] {
        print_ratio(AREA, case, peer, brace / median_of(results, peer));
    }
}

/// Wakes a parked thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unpark(thread::current())));
}

/// Drives `fut` on this thread, parking while it is pending (no runtime).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    THREAD_WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            thread::park();
        }
    })
}

/// A distinct key per workload thread, so threads never coalesce.
fn thread_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn uncontended() -> Vec<Contender> {
    let brace = Arc::new(BraceGroup::new());
    let peer = Arc::new(PeerGroup::new());
    let moka = MokaCache::builder().max_capacity(MOKA_CAPACITY).build();
    vec![
        Contender::new("brace", "Group::new() (ahash map)", move |n| {
            let key = thread_key();
            for i in 0..n {
                let v = block_on(brace.work(key, || std::future::ready(Ok(i))));
                assert_eq!(std::hint::black_box(v), Ok(i));
            }
        }),
        Contender::new(
            "async_singleflight",
            "Group::new(), work(&key, fut)",
            move |n| {
                let key = thread_key();
                for i in 0..n {
                    let v = block_on(peer.work(&key, async move { Ok(i) }));
                    assert_eq!(std::hint::black_box(v), Ok(i));
                }
            },
        ),
        Contender::new(
            "moka",
            "future::Cache max_capacity 1024; try_get_with then invalidate",
            move |n| {
                let key = thread_key();
                for i in 0..n {
                    let v = block_on(moka.try_get_with(key, async move { Ok::<_, ()>(i) }));
                    assert_eq!(std::hint::black_box(v), Ok(i));
                    block_on(moka.invalidate(&key));
                }
            },
        ),
    ]
}

/// Work that stays pending until `gate` opens, then yields `value`.
fn gated(gate: Arc<AtomicBool>, value: u64) -> impl Future<Output = Result<u64, ()>> + Send {
    std::future::poll_fn(move |_| {
        if gate.load(Ordering::Acquire) {
            Poll::Ready(Ok(value))
        } else {
            Poll::Pending
        }
    })
}

/// Polls every caller once, opens the gate, then polls until all are done;
/// checks every caller got the leader's value.
fn drive_flight<F, T>(mut callers: Vec<Pin<Box<F>>>, gate: &AtomicBool, check: impl Fn(T))
where
    F: Future<Output = T>,
{
    let mut cx = Context::from_waker(Waker::noop());
    let mut done: Vec<Option<T>> = callers.iter().map(|_| None).collect();
    for (c, d) in callers.iter_mut().zip(&mut done) {
        if let Poll::Ready(v) = c.as_mut().poll(&mut cx) {
            *d = Some(v);
        }
    }
    gate.store(true, Ordering::Release);
    let mut left = done.iter().filter(|d| d.is_none()).count();
    while left > 0 {
        for (c, d) in callers.iter_mut().zip(&mut done) {
            if d.is_none() {
                if let Poll::Ready(v) = c.as_mut().poll(&mut cx) {
                    *d = Some(v);
                    left -= 1;
                }
            }
        }
    }
    done.into_iter().flatten().for_each(check);
}

fn flight_of(waiters: usize) -> Vec<Contender> {
    let brace = Arc::new(BraceGroup::new());
    let peer = Arc::new(PeerGroup::new());
    let moka = MokaCache::builder().max_capacity(MOKA_CAPACITY).build();
    vec![
        Contender::new("brace", format!("{waiters} callers per flight"), move |n| {
            let key = thread_key();
            for i in 0..n {
                let gate = Arc::new(AtomicBool::new(false));
                let callers = (0..waiters)
                    .map(|_| {
                        let gate = Arc::clone(&gate);
                        Box::pin(brace.work(key, move || gated(gate, i)))
                    })
                    .collect();
                drive_flight(callers, &gate, |v| assert_eq!(v, Ok(i)));
            }
        }),
        Contender::new(
            "async_singleflight",
            format!("{waiters} callers per flight"),
            move |n| {
                let key = thread_key();
                for i in 0..n {
                    let gate = Arc::new(AtomicBool::new(false));
                    let callers = (0..waiters)
                        .map(|_| Box::pin(peer.work(&key, gated(Arc::clone(&gate), i))))
                        .collect();
                    drive_flight(callers, &gate, |v| assert_eq!(v, Ok(i)));
                }
            },
        ),
        Contender::new(
            "moka",
            format!("{waiters} callers per flight; try_get_with then invalidate"),
            move |n| {
                let key = thread_key();
                for i in 0..n {
                    let gate = Arc::new(AtomicBool::new(false));
                    let callers = (0..waiters)
                        .map(|_| Box::pin(moka.try_get_with(key, gated(Arc::clone(&gate), i))))
                        .collect();
                    drive_flight(callers, &gate, |v| assert_eq!(v, Ok(i)));
                    block_on(moka.invalidate(&key));
                }
            },
        ),
    ]
}

/// Loader calls and caller waits of one stampede.
struct Stampede {
    executions: usize,
    hung: usize,
    failed: usize,
    waits: Vec<Duration>,
}

const STAMPEDE_TASKS: usize = 256;
const LOAD_TIME: Duration = Duration::from_millis(20);
const LEADER_TIMEOUT: Duration = Duration::from_millis(5);
const WATCHDOG: Duration = Duration::from_secs(2);

/// One caller of a stampede: `call(loader)` runs the contender's
/// single-flight call with the given loader future.
type Caller = Arc<
    dyn Fn(
            Pin<Box<dyn Future<Output = Result<u64, ()>> + Send>>,
        ) -> Pin<Box<dyn Future<Output = bool> + Send>>
        + Send
        + Sync,
>;

fn stampede(rt: &tokio::runtime::Runtime, call: Caller, leader_timeout: bool) -> Stampede {
    let loads = Arc::new(AtomicUsize::new(0));
    let loader = {
        let loads = Arc::clone(&loads);
        move || {
            let loads = Arc::clone(&loads);
            Box::pin(async move {
                loads.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(LOAD_TIME).await;
                Ok(42)
            })
        }
    };
    let mut waits = Vec::with_capacity(STAMPEDE_TASKS);
    let mut hung = 0;
    let mut failed = 0;
    rt.block_on(async {
        let mut tasks = Vec::with_capacity(STAMPEDE_TASKS);
        let mut followers = STAMPEDE_TASKS;
        if leader_timeout {
            // The leader starts alone and gives up after 5 ms; the others
            // arrive 1 ms later, while its load is in flight.
            let leader = call(loader());
            tasks.push(tokio::spawn(async move {
                let _ = tokio::time::timeout(LEADER_TIMEOUT, leader).await;
                (true, None)
            }));
            tokio::time::sleep(Duration::from_millis(1)).await;
            followers -= 1;
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(followers));
        for _ in 0..followers {
            let (call, barrier, load) = (Arc::clone(&call), Arc::clone(&barrier), loader());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let start = Instant::now();
                (false, call(load).await.then(|| start.elapsed()))
            }));
        }
        for t in tasks {
            match tokio::time::timeout(WATCHDOG, t).await {
                Ok(Ok((_, Some(w)))) => waits.push(w),
                Ok(Ok((true, None))) => {}
                Ok(Ok((false, None))) => failed += 1,
                _ => hung += 1,
            }
        }
    });
    waits.sort();
    Stampede {
        executions: loads.load(Ordering::Relaxed),
        hung,
        failed,
        waits,
    }
}

/// The `p` quantile of ascending `waits`, in milliseconds (NaN if empty).
fn quantile_ms(waits: &[Duration], p: f64) -> f64 {
    if waits.is_empty() {
        return f64::NAN;
    }
    waits[((waits.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

fn stampede_report(opts: &Options) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");
    let rounds = if opts.quick { 3 } else { 7 };
    println!(
        "\n### singleflight stampede: {STAMPEDE_TASKS} tasks, one cold key, {LOAD_TIME:?} loader, \
         2 tokio workers, {rounds} interleaved rounds\n"
    );
    println!(
        "| contender | leader | loader runs per stampede (max) | hung (2 s watchdog) | errors | \
         wait p50 (median) | wait p99 (median) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let mut lines = Vec::new();
    for leader_timeout in [false, true] {
        let names: Vec<&str> = stampede_callers().iter().map(|(n, _)| *n).collect();
        let mut runs: Vec<Vec<Stampede>> = names.iter().map(|_| Vec::new()).collect();
        for round in 0..rounds {
            // Fresh groups and caches every round, so every key starts cold.
            let mut callers = stampede_callers();
            for k in 0..callers.len() {
                let i = (round + k) % callers.len();
                let call = Arc::clone(&callers[i].1);
                runs[i].push(stampede(&rt, call, leader_timeout));
            }
            callers.clear();
        }
        let leader = if leader_timeout {
            "5-ms-timeout"
        } else {
            "plain"
        };
        for (name, runs) in names.iter().zip(&runs) {
            let executions = runs.iter().map(|s| s.executions).max().unwrap_or(0);
            let hung: usize = runs.iter().map(|s| s.hung).sum();
            let failed: usize = runs.iter().map(|s| s.failed).sum();
            let median = |p: f64| {
                let mut q: Vec<f64> = runs.iter().map(|s| quantile_ms(&s.waits, p)).collect();
                q.sort_by(|a, b| a.total_cmp(b));
                q[q.len() / 2]
            };
            let (p50, p99) = (median(0.5), median(0.99));
            println!(
                "| {name} | {leader} | {executions} | {hung} | {failed} | {p50:.1} ms | {p99:.1} ms |"
            );
            lines.push(format!(
                "stampede {name} {leader} executions={executions} hung={hung} errors={failed} \
                 p50_ms={p50:.1} p99_ms={p99:.1}"
            ));
        }
    }
    println!();
    lines.iter().for_each(|l| println!("{l}"));
}

fn stampede_callers() -> Vec<(&'static str, Caller)> {
    let brace = Arc::new(Group::<u64, u64, ()>::new());
    let peer = Arc::new(PeerGroup::new());
    let moka = MokaCache::builder().max_capacity(MOKA_CAPACITY).build();
    vec![
        (
            "brace",
            Arc::new(move |loader| {
                let g = Arc::clone(&brace);
                Box::pin(async move { g.work(7, || loader).await == Ok(42) })
            }),
        ),
        (
            "async_singleflight",
            Arc::new(move |loader| {
                let g = Arc::clone(&peer);
                Box::pin(async move { g.work(&7, loader).await == Ok(42) })
            }),
        ),
        (
            "moka",
            Arc::new(move |loader| {
                let c = moka.clone();
                Box::pin(async move { c.try_get_with(7, loader).await == Ok(42) })
            }),
        ),
    ]
}
