//! Unit tests of the cache's public behaviour on a manual clock.

use super::*;
use crate::time::ManualClock;
use alloc::borrow::ToOwned;
use alloc::string::String;

fn cache(capacity: u64) -> (Cache<u64, u64, ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    let cache = Cache::builder()
        .max_capacity(capacity)
        .time_to_live(Duration::from_secs(10))
        .clock(clock.clone())
        .build()
        .unwrap();
    (cache, clock)
}

#[test]
fn insert_then_get_returns_the_latest_value() {
    let (cache, _) = cache(10);
    assert_eq!(cache.get(&1), None);
    cache.insert(1, 10);
    cache.insert(1, 11);
    assert_eq!(cache.get(&1), Some(11));
    assert_eq!(cache.entry_count(), 1);
    assert_eq!(cache.weighted_size(), 1);
}

#[test]
fn expired_entries_are_never_returned_and_get_removed() {
    let (cache, clock) = cache(10);
    cache.insert(1, 10);
    cache.insert_with_ttl(2, 20, Duration::from_secs(1));
    clock.advance(Duration::from_millis(999));
    assert_eq!(cache.get(&2), Some(20));
    clock.advance(Duration::from_millis(1));
    assert_eq!(cache.get(&2), None);
    assert_eq!(cache.entry_count(), 1, "the expired read removed it");
    clock.advance(Duration::from_secs(9));
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.weighted_size(), 0);
}

#[test]
fn capacity_is_never_exceeded() {
    let (cache, _) = cache(100);
    for k in 0..1_000 {
        cache.insert(k, k);
        assert!(cache.entry_count() <= 100);
        assert!(cache.weighted_size() <= 100);
    }
    assert!(cache.stats().evictions >= 900);
}

#[test]
fn weigher_bounds_total_weight() {
    let cache = Cache::<u64, u64>::builder()
        .max_capacity(100)
        .weigher(|_, v| *v as u32)
        .build()
        .unwrap();
    for k in 1..=40 {
        cache.insert(k, 10);
        assert!(cache.weighted_size() <= 100);
    }
    cache.insert(1, 60);
    assert!(cache.weighted_size() <= 100);
    let held: u64 = (1..=40).filter_map(|k| cache.get(&k)).sum();
    assert!(held <= 100, "held weight {held}");
}

#[test]
fn remove_returns_the_live_value() {
    let (cache, _) = cache(10);
    cache.insert(1, 10);
    assert_eq!(cache.remove(&1), Some(10));
    assert_eq!(cache.remove(&1), None);
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.weighted_size(), 0);
}

#[test]
fn invalidate_all_hides_older_entries_and_keeps_newer_ones() {
    let (cache, _) = cache(10);
    cache.insert(1, 10);
    cache.insert(2, 20);
    cache.invalidate_all();
    cache.insert(2, 21);
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.get(&2), Some(21));
    cache.run_pending_tasks();
    assert_eq!(cache.entry_count(), 1);
    assert_eq!(cache.weighted_size(), 1);
}

#[test]
fn invalidate_if_applies_to_matching_older_entries_only() {
    let (cache, _) = cache(100);
    for k in 0..10 {
        cache.insert(k, k * 10);
    }
    cache.invalidate_if(|k, _| k % 2 == 0);
    cache.insert(4, 41);
    for k in 0..10 {
        let want = match k {
            4 => Some(41),
            k if k % 2 == 0 => None,
            k => Some(k * 10),
        };
        assert_eq!(cache.get(&k), want, "key {k}");
    }
}

#[test]
fn a_dead_entry_is_removed_without_running_its_predicate_again() {
    // User predicates run under a shard's read lock only; removing the
    // entry a read found dead (under the write lock) must not call them,
    // or a predicate that reads the cache would wait on its own caller.
    let (cache, _) = cache(100);
    cache.insert(1, 10);
    let calls = Arc::new(crate::sync::AtomicU32::new(0));
    let counted = Arc::clone(&calls);
    cache.invalidate_if(move |k, _| {
        counted.fetch_add(1, Ordering::Relaxed);
        *k == 1
    });
    assert_eq!(cache.get(&1), None);
    assert_eq!(calls.load(Ordering::Relaxed), 1, "the predicate ran again");
    assert_eq!(cache.entry_count(), 0, "the dead entry was removed");
}

#[test]
fn many_predicates_trigger_a_sweep_that_retires_them() {
    let (cache, _) = cache(100);
    for k in 0..50 {
        cache.insert(k, k);
    }
    for m in 0..invalidation::SWEEP_AFTER as u64 {
        cache.invalidate_if(move |k, _| *k == m);
    }
    assert_eq!(cache.entry_count(), 50 - invalidation::SWEEP_AFTER as u64);
    assert_eq!(cache.get(&0), None);
    assert_eq!(cache.get(&49), Some(49));
}

#[test]
fn stats_count_hits_misses_and_evictions() {
    let (cache, _) = cache(1);
    cache.insert(1, 1);
    cache.get(&1);
    cache.get(&2);
    cache.insert(2, 2);
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.evictions), (1, 1, 1));
}

#[test]
fn a_single_thread_never_loses_access_events() {
    // The temporary policy is an exact LRU: if every hit reaches it, the
    // most recently read keys survive an eviction.
    let (cache, _) = cache(64);
    for k in 0..64 {
        cache.insert(k, k);
    }
    for _ in 0..3 {
        for k in 0..32 {
            assert_eq!(cache.get(&k), Some(k));
        }
    }
    for k in 100..132 {
        cache.insert(k, k);
    }
    for k in 0..32 {
        assert_eq!(cache.get(&k), Some(k), "recently read key {k} was evicted");
    }
}

#[test]
fn str_keys_are_read_through_borrow() {
    let cache = Cache::<String, u8>::builder()
        .max_capacity(4)
        .build()
        .unwrap();
    cache.insert("k".to_owned(), 1);
    assert_eq!(cache.get("k"), Some(1));
    assert_eq!(cache.remove("k"), Some(1));
}

#[test]
fn evicted_values_are_dropped_after_the_policy_lock() {
    // A value whose `Drop` asks the cache for its size (which takes the
    // policy lock) would deadlock if evictions dropped it under that lock.
    use std::sync::OnceLock;
    use std::sync::mpsc;
    type Shared = Arc<OnceLock<Cache<u64, Probe, ManualClock>>>;
    #[derive(Clone)]
    struct Probe(Shared);
    impl Drop for Probe {
        fn drop(&mut self) {
            if let Some(cache) = self.0.get() {
                cache.weighted_size();
            }
        }
    }
    let shared: Shared = Arc::new(OnceLock::new());
    let cache = Cache::builder()
        .max_capacity(2)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    assert!(shared.set(cache).is_ok());
    let (done, finished) = mpsc::channel();
    let writer = Arc::clone(&shared);
    std::thread::spawn(move || {
        let cache = writer.get().expect("set above");
        for k in 0..20 {
            cache.insert(k, Probe(Arc::clone(&writer)));
        }
        done.send(cache.weighted_size()).expect("the test waits");
    });
    let size = finished
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("an eviction dropped a value under the policy lock (deadlock)");
    assert!(size <= 2);
}

#[test]
fn contains_key_sees_live_entries_only_and_counts_no_read() {
    let (cache, clock) = cache(10);
    cache.insert(1, 10);
    cache.insert_with_ttl(2, 20, Duration::from_secs(1));
    cache.insert(3, 30);
    cache.invalidate_if(|k, _| *k == 3);
    clock.advance(Duration::from_secs(1));
    assert!(cache.contains_key(&1));
    assert!(!cache.contains_key(&2), "expired");
    assert!(!cache.contains_key(&3), "invalidated");
    assert!(!cache.contains_key(&4), "never written");
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (0, 0));
}
