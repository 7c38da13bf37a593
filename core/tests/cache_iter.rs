//! `Cache::iter`: every live entry once, nothing dead, not a read, and no
//! lock held between items.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use brace::cache::Cache;
use brace::time::ManualClock;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn every_live_entry_is_yielded_once_across_all_shards() {
    let cache = Cache::<u64, u64>::builder()
        .max_capacity(100_000)
        .build()
        .unwrap();
    for k in 0..20_000 {
        cache.insert(k, k * 3);
    }
    let mut seen = HashMap::new();
    for (k, v) in cache.iter() {
        assert!(seen.insert(k, v).is_none(), "key {k} yielded twice");
    }
    assert_eq!(seen.len(), 20_000);
    assert!(seen.iter().all(|(k, v)| *v == k * 3));
    // A walk is not a read.
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (0, 0));
}

#[test]
fn expired_entries_are_not_yielded() {
    let clock = ManualClock::new();
    let cache = Cache::<u32, &str>::builder()
        .max_capacity(100)
        .time_to_live(Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.insert(1, "long");
    cache.insert_with_ttl(2, "short", Duration::from_secs(1));
    clock.advance(Duration::from_secs(2));
    assert_eq!(cache.iter().collect::<Vec<_>>(), [(1, "long")]);
    clock.advance(Duration::from_secs(60));
    assert_eq!(cache.iter().count(), 0);
}

#[test]
fn invalidated_entries_are_not_yielded() {
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(100)
        .build()
        .unwrap();
    for k in 0..10 {
        cache.insert(k, k);
    }
    cache.invalidate_if(|_, v| v % 2 == 0);
    let mut left: Vec<_> = cache.iter().map(|(k, _)| k).collect();
    left.sort();
    assert_eq!(left, [1, 3, 5, 7, 9]);
    cache.invalidate_all();
    assert_eq!(cache.iter().count(), 0);
    cache.insert(20, 20);
    assert_eq!(cache.iter().collect::<Vec<_>>(), [(20, 20)]);
}

#[test]
fn a_cached_not_found_is_not_yielded() {
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(100)
        .negative_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let missing = block_on(cache.get_or_load_optional(1, || async { Ok::<_, Infallible>(None) }));
    assert_eq!(missing, Ok(None));
    assert!(cache.contains_key(&1), "the \"not found\" is cached");
    cache.insert(2, 2);
    assert_eq!(cache.iter().collect::<Vec<_>>(), [(2, 2)]);
}

#[test]
fn the_loop_body_may_write_to_the_cache() {
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(1_000)
        .build()
        .unwrap();
    for k in 0..500 {
        cache.insert(k, k);
    }
    // No lock is held between items: writing here does not deadlock.
    let mut walked = 0;
    for (k, v) in cache.iter() {
        cache.insert(k, v + 1);
        cache.remove(&(k + 1_000));
        walked += 1;
    }
    assert_eq!(walked, 500);
    assert!((0..500).all(|k| cache.get(&k) == Some(k + 1)));
}

#[test]
fn entries_untouched_during_a_concurrent_walk_are_all_yielded() {
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(100_000)
        .build()
        .unwrap();
    for k in 0..5_000 {
        cache.insert(k, k);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (cache, stop) = (cache.clone(), stop.clone());
        thread::spawn(move || {
            let mut k = 10_000;
            while !stop.load(Ordering::Relaxed) {
                cache.insert(k, k);
                cache.remove(&(k - 1));
                k += 1;
            }
        })
    };
    for _ in 0..20 {
        let walked: HashMap<u32, u32> = cache.iter().collect();
        assert!((0..5_000).all(|k| walked.get(&k) == Some(&k)));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}
