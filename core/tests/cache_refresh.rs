//! Stale-while-revalidate, stale-if-error and negative caching on a manual
//! clock, driven by hand (no runtime).

mod swr;

use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use brace::cache::{Cache, RefreshTask};
use brace::singleflight::SingleFlightError;
use brace::time::ManualClock;
use swr::{HARD, SOFT, block_on, poll_once, swr_cache};

async fn value(v: u32) -> Result<u32, &'static str> {
    Ok(v)
}

#[test]
fn past_soft_ttl_the_first_caller_refreshes_and_others_get_stale() {
    let clock = ManualClock::new();
    let cache = swr_cache(&clock);
    assert_eq!(block_on(cache.get_or_load(1, || value(10))), Ok(10));
    clock.advance(SOFT);

    // The first caller's refresh is held open...
    let release = Arc::new(AtomicBool::new(false));
    let gate = release.clone();
    let slow = move || {
        std::future::poll_fn(move |_| {
            if gate.load(Ordering::SeqCst) {
                Poll::Ready(Ok::<u32, &'static str>(11))
            } else {
                Poll::Pending
            }
        })
    };
    let mut first = pin!(cache.get_or_load(1, slow));
    assert!(poll_once(first.as_mut()).is_pending());
    // ...while a concurrent caller is served the stale value at once, and
    // does not run its own loader.
    let ran = Arc::new(AtomicBool::new(false));
    let ran2 = ran.clone();
    let other = block_on(cache.get_or_load(1, move || {
        ran2.store(true, Ordering::SeqCst);
        value(99)
    }));
    assert_eq!(other, Ok(10));
    assert!(!ran.load(Ordering::SeqCst));
    release.store(true, Ordering::SeqCst);
    assert_eq!(poll_once(first.as_mut()), Poll::Ready(Ok(11)));
    assert_eq!(cache.get(&1), Some(11));
    let s = cache.stats();
    assert_eq!((s.loads, s.stale_served), (2, 1));
}

#[test]
fn a_failed_refresh_serves_stale_until_the_hard_ttl() {
    let clock = ManualClock::new();
    let cache = swr_cache(&clock);
    assert_eq!(block_on(cache.get_or_load(1, || value(10))), Ok(10));
    clock.advance(SOFT);
    let failing = || async { Err::<u32, &'static str>("db down") };
    assert_eq!(block_on(cache.get_or_load(1, failing)), Ok(10));
    clock.advance(HARD - SOFT - Duration::from_nanos(1));
    assert_eq!(block_on(cache.get_or_load(1, failing)), Ok(10));
    clock.advance(Duration::from_nanos(1));
    // Hard TTL reached: the stale value is gone and the error shows.
    let err = block_on(cache.get_or_load(1, failing)).unwrap_err();
    assert_eq!(err.failure(), Some(&"db down"));
    let s = cache.stats();
    assert_eq!((s.loads, s.load_errors, s.stale_served), (4, 3, 2));
}

#[test]
fn with_a_spawn_hook_the_refresh_runs_in_the_background() {
    let clock = ManualClock::new();
    let spawned: Arc<Mutex<Vec<RefreshTask>>> = Arc::default();
    let sink = spawned.clone();
    let cache: Cache<u32, u32, ManualClock> = Cache::builder()
        .max_capacity(100)
        .refresh_after(SOFT)
        .time_to_live(HARD)
        .spawn_hook(move |task| sink.lock().unwrap().push(task))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(block_on(cache.get_or_load(1, || value(10))), Ok(10));
    clock.advance(SOFT);
    assert_eq!(block_on(cache.get_or_load(1, || value(11))), Ok(10));
    assert_eq!(spawned.lock().unwrap().len(), 1);
    assert_eq!(cache.get(&1), Some(10), "not refreshed until the task runs");
    let task = spawned.lock().unwrap().pop().unwrap();
    block_on(task);
    assert_eq!(cache.get(&1), Some(11));
    assert_eq!(block_on(cache.get_or_load(1, || value(12))), Ok(11));
}

#[test]
fn not_found_is_cached_for_the_negative_ttl_only() {
    let clock = ManualClock::new();
    let cache: Cache<u32, u32, ManualClock> = Cache::builder()
        .max_capacity(100)
        .negative_ttl(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let load = |found: Option<u32>| {
        let calls = calls.clone();
        move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, &'static str>(found)
        }
    };
    assert_eq!(
        block_on(cache.get_or_load_optional(1, load(None))),
        Ok(None)
    );
    assert_eq!(
        block_on(cache.get_or_load_optional(1, load(Some(5)))),
        Ok(None)
    );
    assert_eq!(cache.get(&1), None);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        block_on(cache.get_or_load_optional(1, load(Some(5)))),
        Ok(Some(5))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // A plain loader is not fooled by a cached "not found" of another key.
    assert_eq!(
        block_on(cache.get_or_load_optional(2, load(None))),
        Ok(None)
    );
    assert_eq!(block_on(cache.get_or_load(2, || value(7))), Ok(7));
}

#[test]
fn without_negative_ttl_not_found_is_not_cached() {
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(10)
        .build()
        .unwrap();
    let none = || async { Ok::<Option<u32>, ()>(None) };
    assert_eq!(block_on(cache.get_or_load_optional(1, none)), Ok(None));
    assert_eq!(block_on(cache.get_or_load_optional(1, none)), Ok(None));
    assert_eq!(cache.stats().loads, 2);
    assert_eq!(cache.entry_count(), 0);
}

#[test]
fn a_panicking_loader_is_counted_and_does_not_poison_the_key() {
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(10)
        .build()
        .unwrap();
    let boom = || async {
        if true {
            panic!("loader bug");
        }
        Ok::<u32, ()>(0)
    };
    assert_eq!(
        block_on(cache.get_or_load(1, boom)),
        Err(SingleFlightError::LeaderPanicked)
    );
    assert_eq!(
        block_on(cache.get_or_load(1, || async { Ok::<u32, ()>(3) })),
        Ok(3)
    );
    let s = cache.stats();
    assert_eq!((s.loads, s.load_errors), (2, 1));
}
