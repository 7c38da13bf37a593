//! `cache_bytes`: heap bytes per entry of 1M `u64 -> u64` entries in brace's
//! cache and its peers, measured with a counting global allocator (live
//! bytes after filling and running pending maintenance, minus before).
//!
//! ```text
//! cargo run --release -p brace-benches --bin cache_bytes
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts live heap bytes (requested sizes, not the allocator's rounding).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the counter is a side
// effect that never touches the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's (non-zero size layout).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc`/`realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: `ptr`/`layout` describe a live block from this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ENTRIES: u64 = 1_000_000;

/// Bytes per entry of the structure `fill` builds and returns (kept alive
/// while measuring).
fn bytes_per_entry<T>(fill: impl FnOnce() -> T) -> f64 {
    let before = LIVE.load(Ordering::SeqCst);
    let kept = fill();
    let after = LIVE.load(Ordering::SeqCst);
    drop(kept);
    (after - before) as f64 / ENTRIES as f64
}

fn main() {
    let rows = [
        (
            "brace",
            bytes_per_entry(|| {
                let c = brace::cache::Cache::<u64, u64>::builder()
                    .max_capacity(ENTRIES)
                    .build()
                    .expect("valid config");
                (0..ENTRIES).for_each(|k| c.insert(k, k));
                c.run_pending_tasks();
                c
            }),
        ),
        (
            "moka",
            bytes_per_entry(|| {
                let c = moka::sync::Cache::<u64, u64>::new(ENTRIES);
                (0..ENTRIES).for_each(|k| c.insert(k, k));
                c.run_pending_tasks();
                c
            }),
        ),
        (
            "quick_cache",
            bytes_per_entry(|| {
                let c = quick_cache::sync::Cache::<u64, u64>::new(ENTRIES as usize);
                (0..ENTRIES).for_each(|k| c.insert(k, k));
                c
            }),
        ),
        (
            "mini-moka",
            bytes_per_entry(|| {
                let c = mini_moka::sync::Cache::<u64, u64>::new(ENTRIES);
                (0..ENTRIES).for_each(|k| c.insert(k, k));
                mini_moka::sync::ConcurrentCacheExt::sync(&c);
                c
            }),
        ),
        (
            "mutex",
            bytes_per_entry(|| {
                let m = Mutex::new(HashMap::<u64, u64>::new());
                (0..ENTRIES).for_each(|k| {
                    m.lock().unwrap().insert(k, k);
                });
                m
            }),
        ),
    ];
    println!("\n### cache bytes per entry, 1M u64 -> u64 (counting allocator, live bytes)\n");
    println!("| contender | bytes/entry |");
    println!("|---|---:|");
    for (name, bytes) in &rows {
        println!("| {name} | {bytes:.1} |");
    }
    println!();
    println!("bytes cache brace = {:.1}", rows[0].1);
}
