//! `get_or_load` and its refreshes racing invalidations, writes, the clock
//! and each other, on a `ManualClock` with loaders held open by a gate.
//! Ten of these failed before their fixes; the other four (stale-if-error
//! within the hard TTL, a dropped refresh giving the key back either way, a
//! plain load replacing a cached "not found") guard what the fixes keep.

mod swr;

use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use brace::cache::{Cache, RefreshTask};
use brace::singleflight::SingleFlightError;
use brace::time::ManualClock;
use swr::{HARD, Loaded, SOFT, block_on, gated, poll_once, swr_cache, write_during_a_load};

fn ready_value(v: u32) -> impl FnOnce() -> std::future::Ready<Loaded<u32>> {
    move || std::future::ready(Ok(v))
}

#[test]
fn a_value_loaded_across_an_invalidation_is_not_cached() {
    let (all, _) = write_during_a_load(|c| c.invalidate_all());
    assert_eq!(all.get(&1), None, "it outlived invalidate_all");
    let (matching, _) = write_during_a_load(|c| c.invalidate_if(|k, _| *k == 1));
    assert_eq!(matching.get(&1), None, "it outlived invalidate_if");
}

#[test]
fn a_load_does_not_overwrite_an_insert_made_while_it_ran() {
    let (cache, _) = write_during_a_load(|c| c.insert(1, 20));
    assert_eq!(cache.get(&1), Some(20));
}

#[test]
fn a_value_loaded_across_a_remove_of_its_key_is_not_cached() {
    let (cache, _) = write_during_a_load(|c| assert_eq!(c.remove(&1), None));
    assert_eq!(cache.get(&1), None, "it outlived the remove");
    // A remove before a load leaves the load alone.
    assert_eq!(block_on(cache.get_or_load(1, ready_value(11))), Ok(11));
    assert_eq!(cache.get(&1), Some(11));
}

/// Key 1 = 10 past its soft TTL; a refresh that will fail is started,
/// `meanwhile` runs, then the refresh fails: what its caller gets.
fn a_failed_refresh_after(
    meanwhile: impl FnOnce(&Cache<u32, u32, ManualClock>, &ManualClock),
) -> Result<u32, SingleFlightError<&'static str>> {
    let clock = ManualClock::new();
    let cache = swr_cache(&clock);
    assert_eq!(block_on(cache.get_or_load(1, ready_value(10))), Ok(10));
    clock.advance(SOFT);
    let gate = Arc::new(AtomicBool::new(false));
    let mut refresh = pin!(cache.get_or_load(1, gated::<u32>(&gate, Err("db down"))));
    assert!(poll_once(refresh.as_mut()).is_pending());
    meanwhile(&cache, &clock);
    gate.store(true, Ordering::SeqCst);
    match poll_once(refresh.as_mut()) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("the refresh finished"),
    }
}

#[test]
fn a_failed_refresh_does_not_serve_a_value_past_its_hard_ttl() {
    let got = a_failed_refresh_after(|cache, clock| {
        clock.advance(HARD);
        assert_eq!(cache.get(&1), None, "expired");
    });
    match got {
        Err(SingleFlightError::Failed(e)) => assert_eq!(*e, "db down"),
        other => panic!("expected the refresh's error, got {other:?}"),
    }
}

#[test]
fn a_failed_refresh_does_not_serve_a_value_invalidated_meanwhile() {
    let got = a_failed_refresh_after(|cache, _| cache.invalidate_all());
    assert!(got.is_err(), "an invalidated value was served: {got:?}");
}

#[test]
fn a_failed_refresh_still_serves_the_stale_value_before_its_hard_ttl() {
    let clock = ManualClock::new();
    let cache = swr_cache(&clock);
    assert_eq!(block_on(cache.get_or_load(1, ready_value(10))), Ok(10));
    clock.advance(SOFT);
    let failing = || std::future::ready(Err::<u32, _>("db down"));
    assert_eq!(block_on(cache.get_or_load(1, failing)), Ok(10));
    assert_eq!(cache.stats().stale_served, 1);
}

type Spawned = Arc<Mutex<Vec<RefreshTask>>>;

/// A cache whose spawn hook keeps the refresh tasks it is given, holding
/// key 1 = 10 just past its soft TTL.
fn stale_behind_a_spawn_hook() -> (Cache<u32, u32, ManualClock>, ManualClock, Spawned) {
    let clock = ManualClock::new();
    let spawned: Spawned = Arc::default();
    let sink = Arc::clone(&spawned);
    let cache = Cache::builder()
        .max_capacity(100)
        .refresh_after(SOFT)
        .time_to_live(HARD)
        .spawn_hook(move |task| sink.lock().unwrap().push(task))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(block_on(cache.get_or_load(1, ready_value(10))), Ok(10));
    clock.advance(SOFT);
    (cache, clock, spawned)
}

#[test]
fn the_spawn_hook_gets_one_refresh_however_many_callers_come_before_it_runs() {
    let (cache, clock, spawned) = stale_behind_a_spawn_hook();
    let runs = Arc::new(AtomicU32::new(0));
    for _ in 0..3 {
        let runs = Arc::clone(&runs);
        let loader = move || {
            runs.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok::<u32, &'static str>(11))
        };
        assert_eq!(block_on(cache.get_or_load(1, loader)), Ok(10));
    }
    let tasks: Vec<_> = spawned.lock().unwrap().drain(..).collect();
    assert_eq!(tasks.len(), 1, "refresh tasks spawned");
    tasks.into_iter().for_each(block_on);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "loader runs");
    assert_eq!(cache.get(&1), Some(11));
    // The claim went with the task: the next stale read refreshes again.
    clock.advance(SOFT);
    assert_eq!(block_on(cache.get_or_load(1, ready_value(12))), Ok(11));
    assert_eq!(spawned.lock().unwrap().len(), 1);
}

#[test]
fn a_spawned_refresh_dropped_unrun_gives_the_key_back() {
    let (cache, _, spawned) = stale_behind_a_spawn_hook();
    assert_eq!(block_on(cache.get_or_load(1, ready_value(11))), Ok(10));
    // A runtime shutting down drops the task without polling it.
    spawned.lock().unwrap().clear();
    assert_eq!(block_on(cache.get_or_load(1, ready_value(12))), Ok(10));
    let task = spawned
        .lock()
        .unwrap()
        .pop()
        .expect("a new refresh was spawned");
    block_on(task);
    assert_eq!(cache.get(&1), Some(12));
}

#[test]
fn a_refresh_that_finds_nothing_stops_serving_the_deleted_value() {
    let clock = ManualClock::new();
    let cache = swr_cache(&clock);
    let found = || std::future::ready(Ok::<_, &'static str>(Some(10)));
    assert_eq!(block_on(cache.get_or_load_optional(1, found)), Ok(Some(10)));
    clock.advance(SOFT);
    // The row was deleted: the refresh finds nothing.
    let gone = || std::future::ready(Ok::<Option<u32>, &'static str>(None));
    assert_eq!(block_on(cache.get_or_load_optional(1, gone)), Ok(None));
    assert_eq!(cache.get(&1), None, "the deleted row is still served");
}

#[test]
fn a_stale_value_read_by_get_counts_as_stale_served() {
    let clock = ManualClock::new();
    let cache = swr_cache(&clock);
    cache.insert(1, 10);
    clock.advance(SOFT);
    assert_eq!(cache.get(&1), Some(10));
    assert_eq!(cache.stats().stale_served, 1);
}

#[test]
fn a_refreshing_caller_dropped_mid_refresh_gives_the_key_back() {
    let clock = ManualClock::new();
    let cache = swr_cache(&clock);
    assert_eq!(block_on(cache.get_or_load(1, ready_value(10))), Ok(10));
    clock.advance(SOFT);
    {
        let gate = Arc::new(AtomicBool::new(false));
        let mut refresh = Box::pin(cache.get_or_load(1, gated::<u32>(&gate, Ok(11))));
        assert!(poll_once(refresh.as_mut()).is_pending());
    }
    assert_eq!(block_on(cache.get_or_load(1, ready_value(12))), Ok(12));
}

/// A cache with negative caching whose key 1 holds a cached "not found".
fn holding_a_cached_not_found() -> Cache<u32, u32> {
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(100)
        .negative_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let none = || std::future::ready(Ok::<Option<u32>, &'static str>(None));
    assert_eq!(block_on(cache.get_or_load_optional(1, none)), Ok(None));
    cache
}

#[test]
fn a_plain_load_replaces_a_cached_not_found() {
    let cache = holding_a_cached_not_found();
    // `get_or_load` wants a value, so it loads past the cached "not found"
    // and its value replaces it.
    assert_eq!(block_on(cache.get_or_load(1, ready_value(10))), Ok(10));
    assert_eq!(cache.get(&1), Some(10));
}

#[test]
fn a_load_dropped_while_its_task_panics_elsewhere_is_not_a_load_error() {
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(100)
        .build()
        .unwrap();
    let gate = Arc::new(AtomicBool::new(false));
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut load = Box::pin(cache.get_or_load(1, gated(&gate, Ok(10))));
        assert!(poll_once(load.as_mut()).is_pending());
        panic!("the task fails elsewhere, with the load pending");
    }));
    assert!(unwound.is_err());
    assert_eq!(cache.stats().load_errors, 0);
    // A loader that panics is one.
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        block_on(cache.get_or_load(2, || async {
            panic!("loader panicked on purpose");
            #[allow(unreachable_code)]
            Ok::<u32, &'static str>(0)
        }))
    }));
    assert!(matches!(
        unwound,
        Ok(Err(SingleFlightError::LeaderPanicked))
    ));
    assert_eq!(cache.stats().load_errors, 1);
}

/// The weigher runs after the load's checks and before its write lands: an
/// `invalidate_if` and a sweep run there, as another thread might. The
/// sweep retires the predicate without having seen the loaded value, so
/// its older stamp alone no longer kills it. Found by review.
#[test]
fn a_value_loaded_across_an_invalidation_and_its_sweep_is_not_served() {
    let handle: Arc<Mutex<Option<Cache<u32, u32>>>> = Arc::default();
    let in_weigher = Arc::clone(&handle);
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(100)
        .weigher(move |_, v| {
            if *v == 666 {
                if let Some(cache) = in_weigher.lock().unwrap().take() {
                    cache.invalidate_if(|_, v| *v == 666);
                    cache.run_pending_tasks();
                }
            }
            1
        })
        .build()
        .unwrap();
    *handle.lock().unwrap() = Some(cache.clone());
    assert_eq!(block_on(cache.get_or_load(1, ready_value(666))), Ok(666));
    assert_eq!(cache.get(&1), None, "an invalidated loaded value is served");
}

#[test]
fn a_load_over_a_cached_not_found_does_not_overwrite_an_insert_made_while_it_ran() {
    let cache = holding_a_cached_not_found();
    // The key holds a fresh "not found" when the load starts.
    let gate = Arc::new(AtomicBool::new(false));
    let mut load = pin!(cache.get_or_load(1, gated(&gate, Ok(10))));
    assert!(poll_once(load.as_mut()).is_pending());
    cache.insert(1, 20);
    gate.store(true, Ordering::SeqCst);
    assert_eq!(poll_once(load.as_mut()), Poll::Ready(Ok(10)));
    assert_eq!(cache.get(&1), Some(20), "the load overwrote a newer insert");
}

#[test]
fn a_spawned_refresh_does_not_overwrite_an_insert_made_while_it_ran() {
    let (cache, _clock, spawned) = stale_behind_a_spawn_hook();
    let gate = Arc::new(AtomicBool::new(false));
    assert_eq!(block_on(cache.get_or_load(1, gated(&gate, Ok(11)))), Ok(10));
    // Re-inserted before the refresh starts: fresh when it starts.
    cache.insert(1, 20);
    let mut task = spawned.lock().unwrap().pop().expect("a refresh task");
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(task.as_mut().poll(&mut cx).is_pending());
    cache.insert(1, 30);
    gate.store(true, Ordering::SeqCst);
    assert!(task.as_mut().poll(&mut cx).is_ready());
    assert_eq!(
        cache.get(&1),
        Some(30),
        "the refresh overwrote a newer insert"
    );
}

/// A refresh of key 1 (loader answers 11 once its gate opens) that starts
/// before `insert(1, 30)` (right before, or, with `start_in_weigher`,
/// inside the insert's weigher, before its value lands) and finishes
/// inside the insert's removal listener. Returns what key 1 then reads.
fn refresh_finishing_inside_an_insert(start_in_weigher: bool) -> Option<u32> {
    let clock = ManualClock::new();
    let spawned: Spawned = Arc::default();
    let sink = Arc::clone(&spawned);
    let parked: Arc<Mutex<Option<RefreshTask>>> = Arc::default();
    let (in_weigher, in_listener) = (Arc::clone(&parked), Arc::clone(&parked));
    let gate = Arc::new(AtomicBool::new(false));
    let opener = Arc::clone(&gate);
    let poll = |task: &mut RefreshTask| {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        task.as_mut().poll(&mut cx)
    };
    let cache = Cache::builder()
        .max_capacity(100)
        .refresh_after(SOFT)
        .time_to_live(HARD)
        .spawn_hook(move |task| sink.lock().unwrap().push(task))
        .weigher(move |_k: &u32, v: &u32| {
            if start_in_weigher && *v == 30 {
                if let Some(task) = in_weigher.lock().unwrap().as_mut() {
                    assert!(poll(task).is_pending(), "the refresh starts");
                }
            }
            1
        })
        .removal_listener(move |_k: &u32, v: &u32, _cause| {
            if *v == 20 {
                if let Some(mut task) = in_listener.lock().unwrap().take() {
                    opener.store(true, Ordering::SeqCst);
                    assert!(poll(&mut task).is_ready(), "the refresh finishes");
                }
            }
        })
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(block_on(cache.get_or_load(1, ready_value(10))), Ok(10));
    clock.advance(SOFT);
    assert_eq!(block_on(cache.get_or_load(1, gated(&gate, Ok(11)))), Ok(10));
    // Fresh again when the refresh starts.
    cache.insert(1, 20);
    let mut task = spawned.lock().unwrap().pop().expect("a refresh task");
    if !start_in_weigher {
        assert!(poll(&mut task).is_pending(), "the refresh starts");
    }
    *parked.lock().unwrap() = Some(task);
    cache.insert(1, 30);
    assert!(
        parked.lock().unwrap().is_none(),
        "the listener ran the refresh"
    );
    cache.get(&1)
}

#[test]
fn a_load_finishing_inside_an_insert_does_not_overwrite_it() {
    assert_eq!(refresh_finishing_inside_an_insert(false), Some(30));
}

#[test]
fn a_load_started_inside_an_insert_before_its_write_does_not_overwrite_it() {
    assert_eq!(refresh_finishing_inside_an_insert(true), Some(30));
}

/// Loads key 1 (the loader reads 10 and is held open), runs `write`, then
/// starts a second caller of key 1 (its loader reads 20): what the second
/// caller gets once both loads are let go (10: it joined the first load),
/// and how many loads ran.
fn a_caller_after(write: impl FnOnce(&Cache<u32, u32>)) -> (Loaded<u32>, u64) {
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(100)
        .build()
        .unwrap();
    let gate = Arc::new(AtomicBool::new(false));
    let mut first = pin!(cache.get_or_load(1, gated(&gate, Ok(10))));
    assert!(poll_once(first.as_mut()).is_pending());
    write(&cache);
    let mut later = pin!(cache.get_or_load(1, ready_value(20)));
    let answer = poll_once(later.as_mut());
    gate.store(true, Ordering::SeqCst);
    assert_eq!(poll_once(first.as_mut()), Poll::Ready(Ok(10)));
    let answer = match answer {
        Poll::Ready(answer) => answer,
        Poll::Pending => block_on(later),
    };
    (answer.map_err(|_| "failed"), cache.stats().loads)
}

#[test]
fn a_caller_after_a_remove_does_not_join_the_load_that_began_before_it() {
    // Found by review: the second caller joined the first load and got 10,
    // a value read before the remove it came after.
    let after_remove = a_caller_after(|c| {
        c.remove(&1);
    });
    assert_eq!(after_remove, (Ok(20), 2));
}

#[test]
fn a_caller_after_an_invalidation_does_not_join_the_load_that_began_before_it() {
    assert_eq!(a_caller_after(|c| c.invalidate_all()), (Ok(20), 2));
    assert_eq!(
        a_caller_after(|c| c.invalidate_if(|_, _| true)),
        (Ok(20), 2)
    );
}

#[test]
fn with_no_write_in_between_a_later_caller_joins_the_load() {
    // The epoch in the flight key changes nothing when nothing was written.
    assert_eq!(a_caller_after(|_| {}), (Ok(10), 1));
}

#[test]
fn inserts_of_other_keys_during_a_load_do_not_split_its_flight() {
    // A thousand other keys cover the load's stripe of 64 all but surely:
    // an insert there while a load runs keeps that load's value out of the
    // cache, but must not make later callers of the key start their own.
    let after_inserts = a_caller_after(|c| {
        for k in 1000..2000 {
            c.insert(k, k);
        }
    });
    assert_eq!(after_inserts, (Ok(10), 1));
}
