//! The blocking loads, `Cache::get_with` and `Cache::try_get_with`, on
//! plain threads: coalescing, panics, errors, stale-while-revalidate, and
//! a blocking caller waiting for an async one.

mod swr;

use std::any::Any;
use std::convert::Infallible;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::task::Poll;
use std::thread;
use std::time::Duration;

use brace::cache::{Cache, RefreshTask};
use brace::singleflight::SingleFlightError;
use brace::time::ManualClock;
use swr::{SOFT, poll_once, swr_cache};

/// Runs `body` on its own thread and fails the test if it has not
/// finished within 10 s (a waiter that is never woken hangs instead of
/// failing).
fn within_10s<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(catch_unwind(AssertUnwindSafe(body)));
    });
    match result.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("a caller hung"),
    }
}

fn cache() -> Cache<u32, u32> {
    Cache::builder().max_capacity(100).build().unwrap()
}

/// Starts `threads` threads at once, each running `call` with its own
/// handle to `cache`, and returns what each returned.
fn at_once<T: Send + 'static>(
    cache: &Cache<u32, u32>,
    threads: usize,
    call: impl Fn(Cache<u32, u32>) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let call = Arc::new(call);
    let start = Arc::new(Barrier::new(threads));
    let callers: Vec<_> = (0..threads)
        .map(|_| {
            let (cache, call, start) = (cache.clone(), call.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                call(cache)
            })
        })
        .collect();
    callers.into_iter().map(|c| c.join().unwrap()).collect()
}

/// Waits, yielding, until `joined` callers of `cache` have joined a load
/// another caller runs (a caller that never joins makes the test's
/// watchdog fail it).
fn until_joined(cache: &Cache<u32, u32>, joined: u64) {
    while cache.stats().coalesced < joined {
        thread::yield_now();
    }
}

/// What the stampede tests' `init` does before it answers: counts its run,
/// then holds the load open until the `others` threads started with it
/// have joined it.
fn counted_run(runs: &AtomicU32, cache: &Cache<u32, u32>, others: u64) {
    runs.fetch_add(1, Ordering::SeqCst);
    until_joined(cache, others);
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("")
}

#[test]
fn threads_missing_one_key_share_one_init() {
    within_10s(|| {
        let cache = cache();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let values = at_once(&cache, 16, move |cache| {
            cache.get_with(1, || {
                counted_run(&counted, &cache, 15);
                42
            })
        });
        assert_eq!(values, [42; 16]);
        assert_eq!(cache.stats().coalesced, 15);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(cache.stats().loads, 1);
        assert_eq!(cache.get(&1), Some(42));
    });
}

#[test]
fn a_blocking_caller_waits_for_an_async_caller_of_the_same_key() {
    within_10s(|| {
        let cache = cache();
        let open = Arc::new(AtomicBool::new(false));
        let gate = open.clone();
        // The async leader's load is held open until the gate opens.
        let mut leader = pin!(cache.get_or_load(1, move || {
            std::future::poll_fn(move |_| {
                if gate.load(Ordering::SeqCst) {
                    Poll::Ready(Ok::<u32, Infallible>(7))
                } else {
                    Poll::Pending
                }
            })
        }));
        assert!(poll_once(leader.as_mut()).is_pending());
        let ran = Arc::new(AtomicBool::new(false));
        let follower = {
            let (cache, ran) = (cache.clone(), ran.clone());
            thread::spawn(move || {
                cache.get_with(1, || {
                    ran.store(true, Ordering::SeqCst);
                    99
                })
            })
        };
        // The thread has joined the async caller's load.
        until_joined(&cache, 1);
        open.store(true, Ordering::SeqCst);
        assert_eq!(poll_once(leader.as_mut()), Poll::Ready(Ok(7)));
        assert_eq!(follower.join().unwrap(), 7);
        assert!(!ran.load(Ordering::SeqCst), "the follower ran its own init");
        assert_eq!(cache.stats().loads, 1);
    });
}

#[test]
fn a_panicking_init_panics_its_caller_and_the_waiting_threads_load_again() {
    within_10s(|| {
        let cache = cache();
        let (started, leading) = mpsc::channel();
        let leader = {
            let (cache, watched) = (cache.clone(), cache.clone());
            thread::spawn(move || {
                cache.get_with(1, move || {
                    started.send(()).unwrap();
                    // Panic once all four followers wait on this load.
                    until_joined(&watched, 4);
                    panic!("boom")
                })
            })
        };
        leading.recv().unwrap();
        let runs = Arc::new(AtomicU32::new(0));
        let followers: Vec<_> = (0..4)
            .map(|_| {
                let (cache, runs) = (cache.clone(), runs.clone());
                thread::spawn(move || {
                    cache.get_with(1, || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        5
                    })
                })
            })
            .collect();
        // The caller whose init panicked gets that very panic back.
        let panic = leader.join().unwrap_err();
        assert_eq!(panic_message(&*panic), "boom");
        for follower in followers {
            assert_eq!(follower.join().unwrap(), 5);
        }
        // One of the waiting threads ran its init; the others joined it or
        // found its value.
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(cache.get(&1), Some(5));
    });
}

#[test]
fn a_key_whose_init_panicked_is_not_poisoned() {
    let cache = cache();
    let panicked = catch_unwind(AssertUnwindSafe(|| cache.get_with(3, || panic!("once"))));
    assert_eq!(panic_message(&*panicked.unwrap_err()), "once");
    assert_eq!(cache.get_with(3, || 4), 4);
    assert_eq!(cache.stats().loads, 2);
}

#[test]
fn try_get_with_reports_a_panicking_init_as_leader_panicked() {
    let cache = cache();
    let outcome = cache.try_get_with(3, || -> Result<u32, &str> { panic!("once") });
    assert_eq!(outcome, Err(SingleFlightError::LeaderPanicked));
    assert_eq!(cache.try_get_with(3, || Ok::<_, &str>(4)), Ok(4));
}

#[test]
fn waiting_threads_share_one_failed_init_and_the_next_call_loads_afresh() {
    within_10s(|| {
        let cache = cache();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let outcomes = at_once(&cache, 8, move |cache| {
            cache.try_get_with(1, || {
                counted_run(&counted, &cache, 7);
                Err::<u32, _>(String::from("down"))
            })
        });
        let errors: Vec<_> = outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Err(SingleFlightError::Failed(error)) => error,
                other => panic!("expected the loader's error, got {other:?}"),
            })
            .collect();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(errors.iter().all(|e| Arc::ptr_eq(e, &errors[0])));
        assert_eq!(*errors[0], "down");
        // Errors are not cached.
        assert_eq!(cache.try_get_with(1, || Ok::<_, String>(8)), Ok(8));
        assert_eq!(cache.stats().load_errors, 1);
    });
}

#[test]
fn past_the_soft_ttl_the_first_thread_refreshes_and_the_others_get_stale() {
    within_10s(|| {
        let clock = ManualClock::new();
        let cache = swr_cache(&clock);
        assert_eq!(cache.get_with(1, || 10), 10);
        clock.advance(SOFT);
        let (started, refreshing) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let first = {
            let cache = cache.clone();
            thread::spawn(move || {
                cache.get_with(1, move || {
                    started.send(()).unwrap();
                    released.recv().unwrap();
                    11
                })
            })
        };
        refreshing.recv().unwrap();
        // While the first thread refreshes, another caller gets the stale
        // value at once and runs nothing.
        assert_eq!(cache.get_with(1, || unreachable!()), 10);
        release.send(()).unwrap();
        assert_eq!(first.join().unwrap(), 11);
        assert_eq!(cache.get(&1), Some(11));
        let stats = cache.stats();
        assert_eq!((stats.loads, stats.stale_served), (2, 1));
    });
}

#[test]
fn a_blocking_refresh_runs_on_the_calling_thread_even_with_a_spawn_hook() {
    let clock = ManualClock::new();
    let spawned = Arc::new(AtomicU32::new(0));
    let counter = spawned.clone();
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(100)
        .refresh_after(SOFT)
        .time_to_live(SOFT * 3)
        .clock(clock.clone())
        .spawn_hook(move |_task: RefreshTask| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    assert_eq!(cache.get_with(1, || 10), 10);
    clock.advance(SOFT);
    let caller = thread::current().id();
    let ran_on = std::sync::Mutex::new(None);
    assert_eq!(
        cache.get_with(1, || {
            *ran_on.lock().unwrap() = Some(thread::current().id());
            11
        }),
        11
    );
    assert_eq!(*ran_on.lock().unwrap(), Some(caller));
    assert_eq!(spawned.load(Ordering::SeqCst), 0);
}

#[test]
fn a_failed_blocking_refresh_serves_the_stale_value() {
    let clock = ManualClock::new();
    let cache = swr_cache(&clock);
    assert_eq!(cache.get_with(1, || 10), 10);
    clock.advance(SOFT);
    assert_eq!(cache.try_get_with(1, || Err("down")), Ok(10));
    let stats = cache.stats();
    assert_eq!(
        (stats.loads, stats.load_errors, stats.stale_served),
        (2, 1, 1)
    );
    assert_eq!(cache.get(&1), Some(10));
}

#[test]
fn a_panicking_refresh_init_panics_its_caller_instead_of_serving_stale() {
    let clock = ManualClock::new();
    let cache = swr_cache(&clock);
    assert_eq!(cache.get_with(1, || 10), 10);
    clock.advance(SOFT);
    // Past the soft TTL this caller refreshes; its init panics. The docs
    // promise the panic back, not the stale value with the panic dropped.
    let refreshed = catch_unwind(AssertUnwindSafe(|| cache.get_with(1, || panic!("boom"))));
    let panic = refreshed.expect_err("the panic of init was swallowed");
    assert_eq!(panic_message(&*panic), "boom");
    // No stale value was served to anyone.
    assert_eq!(cache.stats().stale_served, 0);
    // The stale entry stays until its hard TTL, and the key is not poisoned.
    assert_eq!(cache.get_with(1, || 11), 11);
}

#[test]
fn a_refresh_whose_load_panics_after_init_returned_panics_its_caller() {
    let clock = ManualClock::new();
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(100)
        .refresh_after(SOFT)
        .time_to_live(SOFT * 3)
        .clock(clock.clone())
        .weigher(|_, v: &u32| if *v == 11 { panic!("weigher") } else { 1 })
        .build()
        .unwrap();
    assert_eq!(cache.get_with(1, || 10), 10);
    clock.advance(SOFT);
    // init returns 11, whose weighing panics: the docs say get_with panics
    // (it has no error to return), rather than answering the stale 10.
    let refreshed = catch_unwind(AssertUnwindSafe(|| cache.get_with(1, || 11)));
    assert!(refreshed.is_err(), "got {refreshed:?} instead of a panic");
    assert_eq!(cache.stats().stale_served, 0);
}

#[test]
fn threads_missing_an_absent_key_share_one_init_and_the_not_found_is_cached() {
    within_10s(|| {
        let cache = Cache::<u32, u32>::builder()
            .max_capacity(100)
            .negative_ttl(Duration::from_secs(60))
            .build()
            .unwrap();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let outcomes = at_once(&cache, 8, move |cache| {
            cache.try_get_with_optional(1, || {
                counted_run(&counted, &cache, 7);
                Ok::<_, Infallible>(None)
            })
        });
        assert!(outcomes.iter().all(|outcome| *outcome == Ok(None)));
        assert_eq!(outcomes.len(), 8);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // Cached: a later caller's init does not run, and plain reads see
        // no value.
        assert_eq!(
            cache.try_get_with_optional(1, || Ok::<_, Infallible>(Some(5))),
            Ok(None)
        );
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.stats().loads, 1);
    });
}
