//! Loom models of loads racing an application's writes
//! (`Inner::note_user_write`, `LoadRunning` and `write_loaded` in
//! `core/src/cache/`): a `get_or_load` (or a stale value's refresh) whose
//! loader reads the backend before the application writes it (backend,
//! then `insert`, `remove`, `invalidate_all`, or an `invalidate_if` that
//! matches, swept or not) never leaves its older value in the cache over
//! that write, whatever the interleaving. The
//! insert, remove and refresh models fail when the load's check is not
//! repeated under the shard's write lock (the invalidation is caught after
//! the write as well).
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test
//! --release -p brace --test loom_cache_load_insert`.
#![cfg(loom)]

use core::time::Duration;
use std::sync::Arc;

use brace::cache::Cache;
use brace::time::{Clock, ManualClock};
use loom::sync::atomic::{AtomicU32, Ordering};

/// Runs, in one model, a `get_or_load(7)` whose loader reads `backend`
/// (holding 1) against a thread that stores `written` in the backend and
/// then calls `write` on the cache; returns what the cache holds for 7
/// once both are done.
fn load_against<C: Clock + 'static>(
    cache: Cache<u8, u32, C>,
    written: u32,
    write: impl Fn(&Cache<u8, u32, C>) + Send + Sync + 'static,
) -> Option<u32> {
    let backend = Arc::new(AtomicU32::new(1));
    let writer = {
        let (cache, backend) = (cache.clone(), Arc::clone(&backend));
        loom::thread::spawn(move || {
            // The application's write: the row, then the cache.
            backend.store(written, Ordering::SeqCst);
            write(&cache);
        })
    };
    let read = Arc::clone(&backend);
    let _ = loom::future::block_on(cache.get_or_load(7, move || {
        let v = read.load(Ordering::SeqCst);
        async move { Ok::<u32, ()>(v) }
    }));
    writer.join().unwrap();
    cache.get(&7)
}

fn small() -> Cache<u8, u32> {
    Cache::builder().max_capacity(4).build().unwrap()
}

#[test]
fn a_load_never_overwrites_a_newer_insert() {
    loom::model(|| {
        // The backend holds 2 now: the cache may hold 2 or nothing, never
        // the 1 a load read before the write.
        let now = load_against(small(), 2, |c| c.insert(7, 2));
        assert_ne!(now, Some(1), "a stale load overwrote the insert");
    });
}

#[test]
fn a_load_never_brings_back_a_removed_value() {
    loom::model(|| {
        // The row is gone (0): the cache may hold 0 or nothing.
        let now = load_against(small(), 0, |c| {
            c.remove(&7);
        });
        assert_ne!(now, Some(1), "a stale load outlived the remove");
    });
}

#[test]
fn a_load_never_brings_back_an_invalidated_value() {
    loom::model(|| {
        let now = load_against(small(), 2, |c| c.invalidate_all());
        assert_ne!(now, Some(1), "a stale load outlived the invalidation");
    });
}

#[test]
fn a_load_never_brings_back_a_value_a_matching_invalidate_if_dropped() {
    loom::model(|| {
        let now = load_against(small(), 2, |c| c.invalidate_if(|k, _| *k == 7));
        assert_ne!(now, Some(1), "a stale load outlived the invalidation");
    });
}

#[test]
fn a_load_never_brings_back_a_value_whose_predicate_a_sweep_retired() {
    loom::model(|| {
        let now = load_against(small(), 2, |c| {
            c.invalidate_if(|k, _| *k == 7);
            c.run_pending_tasks();
        });
        assert_ne!(now, Some(1), "a stale load outlived the swept invalidation");
    });
}

#[test]
fn a_refresh_never_overwrites_a_newer_insert() {
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
        let now = load_against(cache, 2, |c| c.insert(7, 2));
        assert_eq!(now, Some(2), "a refresh that read 1 overwrote the insert");
    });
}
