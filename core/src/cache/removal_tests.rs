//! The removal listener: every value written leaves through it exactly
//! once (or is still in the cache), with the right cause.

use super::*;
use crate::time::ManualClock;
use std::collections::HashMap;
use std::sync::Mutex as StdMutex;

type Log = Arc<StdMutex<Vec<(u64, u64, RemovalCause)>>>;

fn logged(capacity: u64) -> (Cache<u64, u64, ManualClock>, ManualClock, Log) {
    let clock = ManualClock::new();
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let cache = Cache::builder()
        .max_capacity(capacity)
        .time_to_live(Duration::from_secs(10))
        .clock(clock.clone())
        .removal_listener(move |k: &u64, v: &u64, cause| {
            sink.lock().unwrap().push((*k, *v, cause));
        })
        .build()
        .unwrap();
    (cache, clock, log)
}

fn taken(log: &Log) -> Vec<(u64, u64, RemovalCause)> {
    core::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn each_cause_is_reported_with_its_key_and_value() {
    let (cache, clock, log) = logged(100);
    cache.insert(1, 10);
    cache.insert(1, 11);
    assert_eq!(taken(&log), [(1, 10, RemovalCause::Replaced)]);
    assert_eq!(cache.remove(&1), Some(11));
    assert_eq!(taken(&log), [(1, 11, RemovalCause::Removed)]);
    assert_eq!(cache.remove(&1), None);
    assert_eq!(taken(&log), []);

    cache.insert_with_ttl(2, 20, Duration::from_secs(1));
    clock.advance(Duration::from_secs(1));
    assert_eq!(cache.get(&2), None);
    assert_eq!(taken(&log), [(2, 20, RemovalCause::Expired)]);

    cache.insert(3, 30);
    cache.insert(4, 40);
    cache.invalidate_all();
    cache.run_pending_tasks();
    let mut swept = taken(&log);
    swept.sort_unstable_by_key(|e| e.0);
    assert_eq!(
        swept,
        [
            (3, 30, RemovalCause::Invalidated),
            (4, 40, RemovalCause::Invalidated)
        ]
    );
    assert_eq!(cache.entry_count(), 0);
}

#[test]
fn a_dead_entry_is_reported_for_its_death_whatever_removes_it() {
    let (cache, clock, log) = logged(100);
    // Replaced after it expired: it left because it expired.
    cache.insert_with_ttl(1, 10, Duration::from_secs(1));
    clock.advance(Duration::from_secs(2));
    cache.insert(1, 11);
    assert_eq!(taken(&log), [(1, 10, RemovalCause::Expired)]);
    // Removed after it was invalidated.
    cache.invalidate_if(|k, _| *k == 1);
    assert_eq!(cache.remove(&1), None, "invalidated: not returned");
    assert_eq!(taken(&log), [(1, 11, RemovalCause::Invalidated)]);
}

#[test]
fn evictions_are_reported_as_size() {
    let (cache, _, log) = logged(50);
    for k in 0..500 {
        cache.insert(k, k * 10);
    }
    let log = taken(&log);
    assert_eq!(log.len() as u64 + cache.entry_count(), 500);
    assert!(
        log.iter()
            .all(|&(k, v, cause)| v == k * 10 && cause == RemovalCause::Size)
    );
    assert_eq!(cache.stats().evictions, log.len() as u64);
}

#[test]
fn cached_not_found_entries_are_not_reported() {
    let (cache, _, log) = logged(100);
    cache.inner.write(
        7,
        None,
        Nanos::MAX,
        Nanos::MAX,
        cache.inner.generations.current(),
        crate::cache::writes::Writer::User,
    );
    assert_eq!(cache.remove(&7), None);
    cache.insert(7, 70);
    assert_eq!(taken(&log), []);
}

#[test]
fn the_listener_may_call_back_into_the_cache() {
    let clock = ManualClock::new();
    let slot: Arc<StdMutex<Option<Cache<u64, u64, ManualClock>>>> = Arc::default();
    let handle = Arc::clone(&slot);
    let cache = Cache::builder()
        .max_capacity(10)
        .clock(clock)
        .removal_listener(move |k: &u64, v: &u64, cause| {
            if cause == RemovalCause::Removed {
                let cache = handle.lock().unwrap().clone().unwrap();
                cache.insert(k + 1000, *v);
            }
        })
        .build()
        .unwrap();
    *slot.lock().unwrap() = Some(cache.clone());
    cache.insert(1, 10);
    cache.remove(&1);
    assert_eq!(cache.get(&1001), Some(10), "written from the listener");
    slot.lock().unwrap().take();
}

/// Random writes, removals, expiries and invalidations on a small cache:
/// every value written is, at the end, either still readable or was
/// reported exactly once, and a reported cause matches what happened.
#[test]
fn every_value_written_is_still_there_or_reported_once() {
    let (cache, clock, log) = logged(64);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut written: HashMap<u64, u64> = HashMap::new(); // value -> key
    let mut value = 0u64;
    for _ in 0..20_000 {
        let r = next();
        let key = r % 200;
        match (r >> 32) % 100 {
            0..=59 => {
                value += 1;
                written.insert(value, key);
                if r >> 40 & 1 == 0 {
                    cache.insert(key, value);
                } else {
                    cache.insert_with_ttl(key, value, Duration::from_millis(r >> 48 & 4095));
                }
            }
            60..=84 => {
                cache.get(&key);
            }
            85..=94 => {
                cache.remove(&key);
            }
            95..=97 => clock.advance(Duration::from_millis(r >> 48 & 1023)),
            98 => cache.invalidate_if(move |k, _| k % 7 == key % 7),
            _ => cache.invalidate_all(),
        }
    }
    cache.run_pending_tasks();
    let mut reported: HashMap<u64, RemovalCause> = HashMap::new();
    for (key, value, cause) in taken(&log) {
        assert_eq!(
            written.get(&value),
            Some(&key),
            "value {value} under its key"
        );
        assert!(
            reported.insert(value, cause).is_none(),
            "value {value} reported twice"
        );
    }
    let mut live = 0;
    for key in 0..200 {
        if let Some(value) = cache.get(&key) {
            live += 1;
            assert!(
                !reported.contains_key(&value),
                "value {value} live and reported"
            );
        }
    }
    assert_eq!(taken(&log), [], "reading live entries removes nothing");
    assert_eq!(reported.len() + live, written.len());
    for cause in [
        RemovalCause::Size,
        RemovalCause::Expired,
        RemovalCause::Invalidated,
        RemovalCause::Removed,
        RemovalCause::Replaced,
    ] {
        assert!(
            reported.values().any(|&c| c == cause),
            "the run exercised {cause:?}"
        );
    }
}

type Handle = Arc<StdMutex<Option<Cache<u64, u64, ManualClock>>>>;

/// A cache whose listener logs each removal and then, once armed (the
/// handle holds the cache), invalidates everything.
fn invalidating(
    builder: CacheBuilder<u64, u64, ManualClock>,
) -> (Cache<u64, u64, ManualClock>, Log, Handle) {
    let armed: Handle = Arc::default();
    let log: Log = Arc::default();
    let (handle, sink) = (Arc::clone(&armed), Arc::clone(&log));
    let cache = builder
        .removal_listener(move |k: &u64, v: &u64, cause| {
            sink.lock().unwrap().push((*k, *v, cause));
            if let Some(cache) = handle.lock().unwrap().clone() {
                cache.invalidate_all();
            }
        })
        .build()
        .unwrap();
    (cache, log, armed)
}

/// A listener that invalidates everything the moment it hears of a removal:
/// what the rest of that call reports was settled before it ran.
#[test]
fn a_listener_that_invalidates_changes_nothing_already_decided() {
    let (cache, log, armed) = invalidating(
        Cache::builder()
            .max_capacity(4)
            .weigher(|_: &u64, v: &u64| *v as u32)
            .clock(ManualClock::new()),
    );
    cache.insert(1, 1);
    cache.insert(2, 1);
    cache.insert(3, 1);
    *armed.lock().unwrap() = Some(cache.clone());
    // Key 1 grows to weight 3: its old value is replaced and two of the
    // others must go to make room, all in one call.
    cache.insert(1, 3);
    let log_now = taken(&log);
    assert_eq!(log_now[0], (1, 1, RemovalCause::Replaced));
    assert!(
        log_now[1..].iter().all(|e| e.2 == RemovalCause::Size),
        "{log_now:?}"
    );
    assert!(!log_now[1..].is_empty());
    armed.lock().unwrap().take();
}

#[test]
fn remove_returns_what_it_judged_before_the_listener_ran() {
    let (cache, log, armed) =
        invalidating(Cache::builder().max_capacity(100).clock(ManualClock::new()));
    *armed.lock().unwrap() = Some(cache.clone());
    cache.insert(7, 70);
    assert_eq!(cache.remove(&7), Some(70));
    assert_eq!(taken(&log), [(7, 70, RemovalCause::Removed)]);
    armed.lock().unwrap().take();
}

#[test]
fn an_expired_entry_pushed_out_by_a_write_is_not_counted_as_an_eviction() {
    for listening in [true, false] {
        let (cache, clock, log) = logged(1);
        let cache = if listening {
            cache
        } else {
            Cache::builder()
                .max_capacity(1)
                .time_to_live(Duration::from_secs(10))
                .clock(clock.clone())
                .build()
                .unwrap()
        };
        cache.insert(1, 10);
        clock.advance(Duration::from_secs(20));
        for k in 2..10 {
            cache.insert(k, k);
        }
        // Key 1 left expired; of 2..=8, each pushed out by the next, at
        // most all seven were evictions (admission may turn a newcomer away
        // instead, which is also one).
        let evictions = cache.stats().evictions;
        if listening {
            let log = taken(&log);
            let sized = log.iter().filter(|e| e.2 == RemovalCause::Size).count() as u64;
            assert_eq!(evictions, sized, "log {log:?}");
            assert!(log.contains(&(1, 10, RemovalCause::Expired)), "log {log:?}");
        }
        assert!((1..=7).contains(&evictions), "{evictions} evictions");
    }
}

#[test]
fn a_panicking_predicate_invalidates_and_does_not_break_the_cache() {
    let (cache, _clock, log) = logged(10);
    cache.insert(1, 10);
    cache.insert(2, 20);
    cache.invalidate_if(|k, _| if *k == 1 { panic!("predicate") } else { false });
    assert_eq!(cache.get(&1), None, "a panic counts as a match");
    assert_eq!(cache.get(&2), Some(20));
    cache.run_pending_tasks();
    assert_eq!(taken(&log), [(1, 10, RemovalCause::Invalidated)]);
    cache.insert(3, 30);
    assert_eq!(cache.get(&3), Some(30));
}
