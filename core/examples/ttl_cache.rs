//! A TTL cache with stale-while-revalidate, on the real clock.
//!
//! ```text
//! cargo run --release --example ttl_cache
//! ```
//!
//! A price lookup is cached for 300 ms and turns stale after 100 ms; the
//! backend takes 30 ms. Reads every 40 ms for about 0.7 s: a stale price is
//! answered at once while a refresh runs on a thread of the spawn hook, so
//! no read after the first waits for the backend, and the backend sees one
//! load every 130–170 ms (the soft TTL, the wait for the next read, the
//! load itself), not one per read. CI also runs this under
//! valgrind: a program using brace's system clock must run there.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use brace::cache::Cache;

/// Calls of the (pretend) backend.
static BACKEND_LOADS: AtomicU32 = AtomicU32::new(0);

fn main() {
    let cache: Cache<&str, u32> = Cache::builder()
        .max_capacity(1_000)
        .time_to_live(Duration::from_millis(300))
        .refresh_after(Duration::from_millis(100))
        .spawn_hook(|refresh| {
            std::thread::spawn(move || futures_executor::block_on(refresh));
        })
        .build()
        .expect("valid configuration");
    let start = Instant::now();
    futures_executor::block_on(async {
        for _ in 0..18 {
            let asked = Instant::now();
            let price = cache
                .get_or_load("BRC", || async {
                    let n = BACKEND_LOADS.fetch_add(1, Ordering::Relaxed) + 1;
                    std::thread::sleep(Duration::from_millis(30));
                    Ok::<u32, std::convert::Infallible>(100 + n)
                })
                .await
                .expect("the loader never fails");
            println!(
                "{:>4} ms  price {price}  answered in {:.1} ms",
                start.elapsed().as_millis(),
                asked.elapsed().as_secs_f64() * 1e3
            );
            std::thread::sleep(Duration::from_millis(40));
        }
    });
    let stats = cache.stats();
    println!(
        "\n18 reads, {} backend loads; hits {}, misses {}, stale served {}",
        BACKEND_LOADS.load(Ordering::Relaxed),
        stats.hits,
        stats.misses,
        stats.stale_served
    );
}
