//! The cache under real threads: four threads read, write, remove and
//! invalidate over a key space four times the capacity. Every value read
//! must belong to its key; afterwards the entries in the map and the entries
//! the eviction policy holds must be the same number, within capacity.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use brace::cache::Cache;

const THREADS: u64 = 4;
const OPS: u64 = 60_000;

/// A value that names its key: `key * 1_000_000 + version`.
fn value(key: u64, version: u64) -> u64 {
    key * 1_000_000 + version % 1_000_000
}

fn run(capacity: u64) {
    let keys = capacity * 4;
    let cache = Cache::<u64, u64>::builder()
        .max_capacity(capacity)
        .build()
        .expect("valid config");
    let wrong = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let cache = cache.clone();
            let wrong = Arc::clone(&wrong);
            s.spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(t + 1);
                for i in 0..OPS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Skewed keys: half the operations on a tenth of them.
                    let key = if x & 1 == 0 {
                        x % (keys / 10)
                    } else {
                        x % keys
                    };
                    match (x >> 8) % 100 {
                        0..=59 => {
                            if let Some(v) = cache.get(&key) {
                                if v / 1_000_000 != key {
                                    wrong.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        60..=94 => cache.insert(key, value(key, i)),
                        95..=98 => {
                            if let Some(v) = cache.remove(&key) {
                                if v / 1_000_000 != key {
                                    wrong.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        // Invalidations only in the first half: later ones
                        // would sweep away slots a bug left behind.
                        _ if i < OPS / 2 && i % 16 == 0 => cache.invalidate_all(),
                        _ if i < OPS / 2 && i % 2 == 0 => {
                            cache.invalidate_if(move |k, _| k % 97 == key % 97)
                        }
                        _ => {
                            cache.get(&key);
                        }
                    }
                }
            });
        }
    });
    assert_eq!(
        wrong.load(Ordering::Relaxed),
        0,
        "a read returned another key's value"
    );
    cache.run_pending_tasks();
    let (entries, held) = (cache.entry_count(), cache.weighted_size());
    assert_eq!(
        entries, held,
        "the map holds {entries} entries, the policy {held}"
    );
    assert!(
        entries <= capacity,
        "{entries} entries over a capacity of {capacity}"
    );
    // Everything still cached after the sweep is live and names its key.
    for key in 0..keys {
        if let Some(v) = cache.get(&key) {
            assert_eq!(v / 1_000_000, key);
        }
    }
}

#[test]
fn four_threads_keep_map_and_policy_in_step_small_cache() {
    run(500);
}

#[test]
fn four_threads_keep_map_and_policy_in_step_filtered_cache() {
    // From 4,096 entries the hit filter is on.
    run(8_192);
}
