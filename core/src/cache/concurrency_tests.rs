//! Threads racing inserts (with and without TTL), reads, removes, clock
//! moves, `invalidate_if`, `invalidate_all` and sweeps on one small key
//! space. Afterwards the store and the policy agree on every key and its
//! weight, the entry count never passed the capacity by more than one
//! entry per thread, and every value written is either still stored or was
//! reported to the removal listener exactly once, under its key.

use super::*;
use crate::time::ManualClock;
use std::collections::HashMap;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::AtomicU64;

type Log = Arc<StdMutex<Vec<(u64, u64, RemovalCause)>>>;

fn weight(v: u64) -> u32 {
    (v % 7 + 1) as u32
}

/// Store and policy agree: every store hash is in the policy with the
/// weigher's weight, and the policy holds no more.
fn check_consistent(cache: &Cache<u64, u64, ManualClock>, weighted: bool) {
    let inner = &*cache.inner;
    let state = inner.policy.lock();
    let slots = inner.map.select(|s| Some((s.key, s.value().copied())));
    let mut sum = 0u64;
    for (hash, (key, value)) in &slots {
        let w = state
            .policy
            .weight_of(*hash)
            .unwrap_or_else(|| panic!("store key {key} unknown to the policy"));
        let want = match (weighted, value) {
            (true, Some(v)) => weight(*v),
            _ => 1,
        };
        assert_eq!(w, want, "key {key}: policy weight {w}, weigher {want}");
        sum += u64::from(w);
    }
    assert_eq!(
        state.policy.weighted_size(),
        sum,
        "policy holds weight for keys the store lacks"
    );
    assert_eq!(inner.map.len(), slots.len());
}

/// `keys` distinct keys: a quarter of the capacity makes threads collide on
/// keys; more than the capacity makes the policy evict.
fn stress(weighted: bool, capacity: u64, keys: u64, threads: u64, ops: u64) {
    let clock = ManualClock::new();
    let log: Log = Arc::default();
    let l = Arc::clone(&log);
    let mut b = Cache::<u64, u64>::builder()
        .max_capacity(capacity)
        .clock(clock.clone())
        .removal_listener(move |k: &u64, v: &u64, c| l.lock().unwrap().push((*k, *v, c)));
    if weighted {
        b = b.weigher(|_k: &u64, v: &u64| weight(*v));
    }
    let cache = b.build().unwrap();
    let counter = Arc::new(AtomicU64::new(1));
    let written: Arc<StdMutex<HashMap<u64, u64>>> = Arc::default();
    let max_seen = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for t in 0..threads {
            let cache = cache.clone();
            let clock = clock.clone();
            let counter = Arc::clone(&counter);
            let written = Arc::clone(&written);
            let max_seen = Arc::clone(&max_seen);
            s.spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(t + 1);
                for _ in 0..ops {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = x % keys;
                    match (x >> 20) % 1000 {
                        0..=449 => {
                            let v = counter.fetch_add(1, Ordering::Relaxed) * 10_000 + key;
                            written.lock().unwrap().insert(v, key);
                            if x >> 40 & 1 == 0 {
                                cache.insert(key, v);
                            } else {
                                cache.insert_with_ttl(key, v, Duration::from_millis(x >> 44 & 63));
                            }
                        }
                        450..=849 => {
                            if let Some(v) = cache.get(&key) {
                                assert_eq!(v % 10_000, key);
                            }
                        }
                        850..=949 => {
                            cache.remove(&key);
                        }
                        950..=979 => clock.advance(Duration::from_millis(x >> 50 & 7)),
                        980..=989 => cache.invalidate_if(move |k, _| k % 5 == key % 5),
                        990..=994 => cache.invalidate_all(),
                        _ => cache.run_pending_tasks(),
                    }
                    let n = if weighted { 0 } else { cache.entry_count() };
                    max_seen.fetch_max(n, Ordering::Relaxed);
                }
            });
        }
    });
    cache.run_pending_tasks();
    check_consistent(&cache, weighted);
    assert!(cache.weighted_size() <= capacity);
    let max = max_seen.load(Ordering::Relaxed);
    assert!(max <= capacity + threads, "entry_count reached {max}");
    let written = written.lock().unwrap();
    let mut reported: HashMap<u64, RemovalCause> = HashMap::new();
    for &(k, v, c) in log.lock().unwrap().iter() {
        assert_eq!(written.get(&v), Some(&k));
        assert!(reported.insert(v, c).is_none(), "value {v} reported twice");
    }
    let live: Vec<u64> = cache
        .inner
        .map
        .select(|s| s.value().copied())
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    for v in &live {
        assert!(!reported.contains_key(v), "value {v} live and reported");
    }
    assert_eq!(
        reported.len() + live.len(),
        written.len(),
        "a value vanished unreported"
    );
}

#[test]
fn racing_writers_keep_store_policy_and_listener_in_step() {
    for _ in 0..3 {
        stress(false, 64, 16, 4, 40_000);
        stress(false, 64, 96, 4, 40_000);
    }
}

#[test]
fn racing_writers_keep_weights_in_step() {
    for _ in 0..3 {
        stress(true, 64, 16, 4, 40_000);
    }
}

#[test]
fn racing_writers_keep_weights_in_step_in_a_larger_cache() {
    stress(true, 5000, 1250, 3, 60_000);
}
