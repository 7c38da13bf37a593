//! Loom models of loads racing an application's writes
//! (`Inner::note_user_write`, `LoadRunning` and `write_loaded` in
//! `core/src/cache/`): a `get_or_load` (or a stale value's refresh) whose
//! loader reads the backend before the application writes it (backend,
//! then `insert`, `remove` or `invalidate_all`) never leaves its older
//! value in the cache over that write, whatever the interleaving. The
//! first two failed before the load's check moved under the shard's write
//! lock.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test
//! --release -p brace --test loom_cache_load_insert`.
#![cfg(loom)]

use std::sync::Arc;

use brace::cache::Cache;
use loom::sync::atomic::{AtomicU32, Ordering};

#[test]
fn a_load_never_overwrites_a_newer_insert() {
    loom::model(|| {
        let cache: Cache<u8, u32> = Cache::builder().max_capacity(4).build().unwrap();
        let backend = Arc::new(AtomicU32::new(1));
        let writer = {
            let (cache, backend) = (cache.clone(), Arc::clone(&backend));
            loom::thread::spawn(move || {
                // The application's write: the row, then the cache.
                backend.store(2, Ordering::SeqCst);
                cache.insert(7, 2);
            })
        };
        let read = Arc::clone(&backend);
        let loaded = loom::future::block_on(cache.get_or_load(7, move || {
            let v = read.load(Ordering::SeqCst);
            async move { Ok::<u32, ()>(v) }
        }))
        .unwrap();
        writer.join().unwrap();
        assert!(loaded == 1 || loaded == 2);
        // The backend holds 2 now: the cache may hold 2 or nothing, never
        // the 1 a load read before the write.
        let now = cache.get(&7);
        assert_ne!(
            now,
            Some(1),
            "a stale load overwrote the insert: loaded {loaded}, stats {:?}",
            cache.stats()
        );
    });
}

#[test]
fn a_load_never_brings_back_a_removed_value() {
    loom::model(|| {
        let cache: Cache<u8, u32> = Cache::builder().max_capacity(4).build().unwrap();
        let backend = Arc::new(AtomicU32::new(1));
        let deleter = {
            let (cache, backend) = (cache.clone(), Arc::clone(&backend));
            loom::thread::spawn(move || {
                // The application deletes the row, then the cached copy.
                backend.store(0, Ordering::SeqCst);
                cache.remove(&7);
            })
        };
        let read = Arc::clone(&backend);
        let _ = loom::future::block_on(cache.get_or_load(7, move || {
            let v = read.load(Ordering::SeqCst);
            async move { Ok::<u32, ()>(v) }
        }));
        deleter.join().unwrap();
        // The row is gone: the cache may hold what was read after the
        // delete (0) or nothing, never the 1 read before it.
        assert_ne!(cache.get(&7), Some(1), "a stale load outlived the remove");
    });
}

#[test]
fn a_load_never_brings_back_an_invalidated_value() {
    loom::model(|| {
        let cache: Cache<u8, u32> = Cache::builder().max_capacity(4).build().unwrap();
        let backend = Arc::new(AtomicU32::new(1));
        let invalidator = {
            let (cache, backend) = (cache.clone(), Arc::clone(&backend));
            loom::thread::spawn(move || {
                backend.store(2, Ordering::SeqCst);
                cache.invalidate_all();
            })
        };
        let read = Arc::clone(&backend);
        let _ = loom::future::block_on(cache.get_or_load(7, move || {
            let v = read.load(Ordering::SeqCst);
            async move { Ok::<u32, ()>(v) }
        }));
        invalidator.join().unwrap();
        assert_ne!(
            cache.get(&7),
            Some(1),
            "a stale load outlived the invalidation"
        );
    });
}

#[test]
fn a_refresh_never_overwrites_a_newer_insert() {
    use brace::time::ManualClock;
    use core::time::Duration;
    loom::model(|| {
        let clock = ManualClock::new();
        let cache: Cache<u8, u32, ManualClock> = Cache::builder()
            .max_capacity(4)
            .refresh_after(Duration::from_secs(1))
            .time_to_live(Duration::from_secs(10))
            .clock(clock.clone())
            .build()
            .unwrap();
        cache.insert(7, 0);
        clock.advance(Duration::from_secs(2)); // stale: the next read refreshes
        let backend = Arc::new(AtomicU32::new(1));
        let writer = {
            let (cache, backend) = (cache.clone(), Arc::clone(&backend));
            loom::thread::spawn(move || {
                backend.store(2, Ordering::SeqCst);
                cache.insert(7, 2);
            })
        };
        let read = Arc::clone(&backend);
        let _ = loom::future::block_on(cache.get_or_load(7, move || {
            let v = read.load(Ordering::SeqCst);
            async move { Ok::<u32, ()>(v) }
        }));
        writer.join().unwrap();
        let now = cache.get(&7);
        assert!(
            now == Some(2),
            "a refresh that read 1 left {now:?} over the insert"
        );
    });
}
