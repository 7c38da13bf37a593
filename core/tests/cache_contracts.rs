//! The cache's core paths against their contracts: weights, listener re-entrancy,
//! panics in user callbacks, TTL edges, stats.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brace::cache::{Cache, RemovalCause};
use brace::time::ManualClock;

type Log = Arc<Mutex<Vec<(u64, u64, RemovalCause)>>>;

/// Runs `f` on a thread; fails if it does not finish within 20 s (a
/// deadlock). Waits on a channel, not by polling with sleeps.
fn watchdog(name: &str, f: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(20)) {
        Ok(()) => h.join().unwrap(),
        // The thread ended without sending: it panicked; surface that.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => h.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("{name}: hung (deadlock?)"),
    }
}

/// A weigher with extreme weights: random weights including 0, 1, the
/// capacity, above it and u32::MAX; values' weights encoded in the value.
#[test]
fn weighted_size_and_entry_count_follow_the_live_entries() {
    const CAP: u64 = 100;
    fn weight(v: u64) -> u32 {
        match v % 11 {
            0 => 0,
            1 => u32::MAX,
            2 => CAP as u32,
            3 => CAP as u32 + 1,
            4 => 50,
            n => n as u32,
        }
    }
    let log: Log = Arc::default();
    let l = Arc::clone(&log);
    let cache = Cache::<u64, u64>::builder()
        .max_capacity(CAP)
        .weigher(|_k: &u64, v: &u64| weight(*v))
        .removal_listener(move |k: &u64, v: &u64, c| l.lock().unwrap().push((*k, *v, c)))
        .build()
        .unwrap();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut written: HashMap<u64, u64> = HashMap::new();
    let mut value = 0u64;
    for step in 0..20_000u64 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let key = rng % 40;
        match (rng >> 32) % 10 {
            0..=6 => {
                value += 1;
                let v = value * 100 + key;
                written.insert(v, key);
                cache.insert(key, v);
            }
            7..=8 => {
                cache.get(&key);
            }
            _ => {
                cache.remove(&key);
            }
        }
        // Live = written minus reported.
        let mut live: HashMap<u64, u64> = written.clone();
        for (k, v, _) in log.lock().unwrap().iter() {
            assert_eq!(
                live.remove(v),
                Some(*k),
                "step {step}: value {v} reported twice or wrong key"
            );
        }
        let sum: u64 = live.keys().map(|v| u64::from(weight(*v).max(1))).sum();
        assert!(cache.weighted_size() <= CAP, "step {step}: over capacity");
        assert_eq!(
            cache.weighted_size(),
            sum,
            "step {step}: weighted size vs live weights"
        );
        assert_eq!(
            cache.entry_count(),
            live.len() as u64,
            "step {step}: entry_count"
        );
        for (v, k) in &live {
            assert_eq!(
                cache.get(k),
                Some(*v),
                "step {step}: live value not readable"
            );
        }
        if step % 1000 == 0 {
            // keep the `written` map small
            for (_, v, _) in log.lock().unwrap().drain(..) {
                written.remove(&v);
            }
        }
    }
}

/// A listener that calls back into the cache for every cause, for every
/// kind of write, must not deadlock.
#[test]
fn a_listener_calling_back_for_every_cause_does_not_deadlock() {
    for weighted in [false, true] {
        watchdog("listener re-entrancy", move || {
            let clock = ManualClock::new();
            let handle: Arc<Mutex<Option<Cache<u64, u64, ManualClock>>>> = Arc::default();
            let h = Arc::clone(&handle);
            let seen: Arc<Mutex<Vec<RemovalCause>>> = Arc::default();
            let s = Arc::clone(&seen);
            let mut b = Cache::<u64, u64>::builder()
                .max_capacity(8)
                .clock(clock.clone())
                .removal_listener(move |k: &u64, _v: &u64, c| {
                    s.lock().unwrap().push(c);
                    let cache = h.lock().unwrap().clone();
                    if let Some(cache) = cache {
                        cache.get(k);
                        cache.get(&(k + 1));
                        cache.contains_key(k);
                        cache.entry_count();
                        cache.weighted_size();
                        cache.stats();
                        if *k < 1_000_000 {
                            cache.insert(k + 1_000_000, 1);
                            cache.remove(&(k + 1_000_000));
                        }
                    }
                });
            if weighted {
                b = b.weigher(|_k: &u64, v: &u64| (*v % 3) as u32);
            }
            let cache = b.build().unwrap();
            *handle.lock().unwrap() = Some(cache.clone());
            cache.insert_with_ttl(100, 1, Duration::from_millis(1));
            cache.insert_with_ttl(101, 1, Duration::from_millis(1));
            clock.advance(Duration::from_millis(5));
            cache.get(&100); // Expired by a read
            cache.run_pending_tasks(); // Expired by a sweep
            cache.insert(200, 2);
            cache.invalidate_all();
            cache.get(&200); // Invalidated by a read
            cache.insert(201, 2);
            cache.invalidate_if(|_, _| true);
            cache.run_pending_tasks();
            cache.insert(202, 2);
            cache.remove(&202);
            for k in 0..50 {
                cache.insert(k, k);
                cache.insert(k, k + 1); // Replaced
            }
            handle.lock().unwrap().take();
            let seen = seen.lock().unwrap();
            for c in [
                RemovalCause::Size,
                RemovalCause::Expired,
                RemovalCause::Invalidated,
                RemovalCause::Replaced,
                RemovalCause::Removed,
            ] {
                assert!(seen.contains(&c), "{c:?} not exercised");
            }
        });
    }
}

/// A weigher that panics once leaves nothing behind: filling past the
/// capacity afterwards keeps the cache within it.
#[test]
fn a_panicking_weigher_leaves_the_cache_bounded() {
    let armed = Arc::new(AtomicBool::new(false));
    let a = Arc::clone(&armed);
    let cache = Cache::<u64, u64>::builder()
        .max_capacity(10)
        .weigher(move |_k: &u64, _v: &u64| {
            if a.swap(false, Ordering::SeqCst) {
                panic!("weigher");
            }
            1
        })
        .build()
        .unwrap();
    for k in 0..10 {
        cache.insert(k, k);
    }
    armed.store(true, Ordering::SeqCst);
    let c = cache.clone();
    assert!(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || c.insert(3, 33))).is_err()
    );
    armed.store(true, Ordering::SeqCst);
    let c = cache.clone();
    assert!(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || c.insert(300, 33))).is_err()
    );
    for k in 1000..1100 {
        cache.insert(k, k);
    }
    assert!(cache.entry_count() <= 10, "{}", cache.entry_count());
    assert_eq!(cache.weighted_size(), cache.entry_count());
}

/// A listener that panics on an eviction: the cache stays bounded and in
/// step afterwards.
#[test]
fn a_panicking_listener_leaves_the_cache_bounded() {
    for weighted in [false, true] {
        let armed = Arc::new(AtomicU64::new(0));
        let a = Arc::clone(&armed);
        let mut b = Cache::<u64, u64>::builder()
            .max_capacity(10)
            .removal_listener(move |_k: &u64, _v: &u64, _c| {
                if a.load(Ordering::SeqCst) > 0 {
                    a.fetch_sub(1, Ordering::SeqCst);
                    panic!("listener");
                }
            });
        if weighted {
            b = b.weigher(|_k: &u64, _v: &u64| 1);
        }
        let cache = b.build().unwrap();
        for k in 0..10 {
            cache.insert(k, k);
        }
        armed.store(5, Ordering::SeqCst);
        for k in 10..20 {
            let c = cache.clone();
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                c.insert(k, k);
                c.insert(k, k + 1);
                c.remove(&(k - 10));
            }));
        }
        for k in 1000..1100 {
            cache.insert(k, k);
        }
        assert!(cache.entry_count() <= 10, "{}", cache.entry_count());
        assert_eq!(cache.weighted_size(), cache.entry_count());
    }
}

#[test]
fn ttl_edges() {
    let clock = ManualClock::new();
    let cache = Cache::<u64, u64>::builder()
        .max_capacity(10)
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.insert_with_ttl(1, 1, Duration::ZERO);
    assert_eq!(cache.get(&1), None, "a zero TTL is expired at once");
    cache.insert_with_ttl(2, 2, Duration::MAX);
    cache.insert_with_ttl(3, 3, Duration::from_secs(u64::MAX / 4));
    cache.insert_with_ttl(4, 4, Duration::from_nanos(u64::MAX - 1));
    clock.advance(Duration::from_secs(365 * 24 * 3600 * 100));
    assert_eq!(cache.get(&2), Some(2));
    assert_eq!(cache.get(&3), Some(3));
    assert_eq!(cache.get(&4), Some(4));
    let s = cache.stats();
    assert_eq!((s.hits, s.misses), (3, 1), "{s:?}");
}

#[test]
fn ttl_edges_with_soft_ttl() {
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(1000));
    let cache = Cache::<u64, u64>::builder()
        .max_capacity(10)
        .time_to_live(Duration::from_secs(10))
        .refresh_after(Duration::from_secs(5))
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.insert_with_ttl(1, 1, Duration::ZERO);
    assert_eq!(cache.get(&1), None);
    cache.insert_with_ttl(2, 2, Duration::MAX);
    cache.insert_with_ttl(3, 3, Duration::from_secs(3));
    clock.advance(Duration::from_secs(4));
    assert_eq!(cache.get(&3), None, "expired at 3 s");
    clock.advance(Duration::from_secs(365 * 24 * 3600 * 100));
    assert_eq!(
        cache.get(&2),
        Some(2),
        "a TTL of Duration::MAX never expires"
    );
    assert_eq!(cache.stats().stale_served, 1);
}

/// Stats: a read of an expired entry is a miss, not a hit; a replace is no
/// eviction; invalidations and expiries pushed out by a write are no
/// evictions.
#[test]
fn stats_counters() {
    let clock = ManualClock::new();
    let cache = Cache::<u64, u64>::builder()
        .max_capacity(2)
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.insert(1, 1);
    cache.insert(1, 2);
    cache.insert(1, 3);
    assert_eq!(cache.stats().evictions, 0);
    cache.insert_with_ttl(2, 2, Duration::from_millis(1));
    clock.advance(Duration::from_millis(2));
    assert_eq!(cache.get(&2), None);
    let s = cache.stats();
    assert_eq!((s.hits, s.misses), (0, 1));
    cache.remove(&1);
    cache.remove(&2);
    assert_eq!(cache.entry_count(), 0);
    assert_eq!(cache.stats().evictions, 0);
}

/// Concurrent invalidate_all + sweeps + inserts + removes, with a
/// listener: once everything is swept, every value written was reported
/// exactly once and nothing is left.
#[test]
fn racing_invalidate_all_and_sweeps_report_each_value_once() {
    for weighted in [false, true] {
        let log: Log = Arc::default();
        let l = Arc::clone(&log);
        let clock = ManualClock::new();
        let mut b = Cache::<u64, u64>::builder()
            .max_capacity(32)
            .clock(clock.clone())
            .removal_listener(move |k: &u64, v: &u64, c| l.lock().unwrap().push((*k, *v, c)));
        if weighted {
            b = b.weigher(|_k: &u64, v: &u64| (*v % 5) as u32);
        }
        let cache = b.build().unwrap();
        let counter = Arc::new(AtomicU64::new(1));
        let written: Arc<Mutex<HashMap<u64, u64>>> = Arc::default();
        std::thread::scope(|s| {
            for t in 0..3u64 {
                let cache = cache.clone();
                let counter = Arc::clone(&counter);
                let written = Arc::clone(&written);
                let clock = clock.clone();
                s.spawn(move || {
                    let mut x = 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(t + 7);
                    for _ in 0..30_000 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let key = x % 48;
                        match (x >> 20) % 100 {
                            0..=49 => {
                                let v = counter.fetch_add(1, Ordering::Relaxed) * 1000 + key;
                                written.lock().unwrap().insert(v, key);
                                if x >> 40 & 1 == 0 {
                                    cache.insert(key, v);
                                } else {
                                    cache.insert_with_ttl(
                                        key,
                                        v,
                                        Duration::from_millis(x >> 44 & 7),
                                    );
                                }
                            }
                            50..=79 => {
                                if let Some(v) = cache.get(&key) {
                                    assert_eq!(v % 1000, key);
                                }
                            }
                            80..=87 => {
                                cache.remove(&key);
                            }
                            88..=91 => cache.invalidate_all(),
                            92..=95 => cache.run_pending_tasks(),
                            96..=97 => clock.advance(Duration::from_millis(1)),
                            _ => cache.invalidate_if(move |k, _| k % 3 == key % 3),
                        }
                    }
                });
            }
        });
        cache.invalidate_all();
        cache.run_pending_tasks();
        assert_eq!(cache.entry_count(), 0);
        assert_eq!(cache.weighted_size(), 0);
        let written = written.lock().unwrap();
        let mut reported: HashMap<u64, RemovalCause> = HashMap::new();
        for &(k, v, c) in log.lock().unwrap().iter() {
            assert_eq!(written.get(&v), Some(&k));
            assert!(reported.insert(v, c).is_none(), "value {v} reported twice");
        }
        assert_eq!(reported.len(), written.len(), "a value vanished unreported");
    }
}

/// Threads write, remove, expire and invalidate while the listener calls
/// back into the cache (reads, writes, removes, sweeps): no deadlock, and
/// the cache stays bounded and in step.
#[test]
fn a_reentrant_listener_under_concurrency_does_not_deadlock() {
    for weighted in [false, true] {
        watchdog("concurrent re-entrant listener", move || {
            let clock = ManualClock::new();
            let handle: Arc<Mutex<Option<Cache<u64, u64, ManualClock>>>> = Arc::default();
            let h = Arc::clone(&handle);
            let calls = Arc::new(AtomicU64::new(0));
            let n = Arc::clone(&calls);
            let mut b = Cache::<u64, u64>::builder()
                .max_capacity(16)
                .clock(clock.clone())
                .removal_listener(move |k: &u64, v: &u64, c| {
                    let i = n.fetch_add(1, Ordering::Relaxed);
                    let cache = h.lock().unwrap().clone();
                    if let Some(cache) = cache {
                        cache.get(k);
                        if *v % 2 == 0 && c != RemovalCause::Removed {
                            cache.insert(*k, v + 1);
                        }
                        if i % 7 == 0 {
                            cache.remove(&(k + 1));
                        }
                        if i % 101 == 0 {
                            cache.run_pending_tasks();
                        }
                        if i % 211 == 0 {
                            cache.invalidate_all();
                        }
                    }
                });
            if weighted {
                b = b.weigher(|_k: &u64, v: &u64| (*v % 4) as u32);
            }
            let cache = b.build().unwrap();
            *handle.lock().unwrap() = Some(cache.clone());
            std::thread::scope(|s| {
                for t in 0..3u64 {
                    let cache = cache.clone();
                    let clock = clock.clone();
                    s.spawn(move || {
                        let mut x = 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(t + 3);
                        for i in 0..20_000u64 {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            let key = x % 40;
                            match (x >> 20) % 10 {
                                0..=4 => cache.insert_with_ttl(
                                    key,
                                    i * 2,
                                    Duration::from_millis(x >> 40 & 3),
                                ),
                                5..=7 => {
                                    cache.get(&key);
                                }
                                8 => {
                                    cache.remove(&key);
                                }
                                _ => clock.advance(Duration::from_millis(1)),
                            }
                        }
                    });
                }
            });
            handle.lock().unwrap().take();
            cache.run_pending_tasks();
            assert!(cache.weighted_size() <= 16);
            if !weighted {
                assert_eq!(cache.weighted_size(), cache.entry_count());
            }
        });
    }
}
