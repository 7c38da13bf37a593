//! `compare fill`: filling a large cache, then churning it, one insert at a
//! time, brace against quick_cache and moka (sync).
//!
//! Workload: a cache of `capacity` entries (4,000,000; 1,000,000 with
//! `--quick`) receives `2 × capacity` inserts of distinct `u64` keys
//! (0, 1, 2, …; every cache hashes them with its own seeded hasher): the
//! first half fills it, the second half evicts one entry per insert. Every
//! insert is timed on its own, so the table shows what a caller waits for
//! while a cache grows (table rebuilds, resizes) as well as the mean. One
//! run per contender, one after another, on one thread; moka's pending
//! tasks run at the end of each half and count in its time.

use std::time::{Duration, Instant};

use crate::harness::Options;

/// Capacity of every cache in a full run.
const CAPACITY: u64 = 4_000_000;
/// Capacity with `--quick`.
const QUICK_CAPACITY: u64 = 1_000_000;

/// What one contender's run measured.
struct Filled {
    name: &'static str,
    fill: Duration,
    churn: Duration,
    /// Each insert's time, in nanoseconds, sorted.
    latencies: Vec<u32>,
}

impl Filled {
    fn percentile(&self, p: f64) -> f64 {
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies[i]) / 1e3
    }
}

/// Times `2 × capacity` inserts of distinct keys through `insert`, and
/// `settle` (pending maintenance) after each half.
fn fill(name: &'static str, capacity: u64, insert: impl Fn(u64), settle: impl Fn()) -> Filled {
    let mut latencies = Vec::with_capacity(2 * capacity as usize);
    let mut halves = [Duration::ZERO; 2];
    for (half, spent) in halves.iter_mut().enumerate() {
        let start = Instant::now();
        for key in half as u64 * capacity..(half as u64 + 1) * capacity {
            let t = Instant::now();
            insert(key);
            latencies.push(t.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32);
        }
        settle();
        *spent = start.elapsed();
    }
    latencies.sort_unstable();
    Filled {
        name,
        fill: halves[0],
        churn: halves[1],
        latencies,
    }
}

/// Runs the area.
pub fn run(opts: &Options) {
    let capacity = if opts.quick { QUICK_CAPACITY } else { CAPACITY };
    println!(
        "## fill: {capacity} distinct keys into a cache of {capacity}, then {capacity} more (one thread, each insert timed)"
    );
    let mut results = Vec::new();
    {
        let cache = brace::cache::Cache::<u64, u64>::builder()
            .max_capacity(capacity)
            .build()
            .expect("valid cache config");
        results.push(fill(
            "brace",
            capacity,
            |k| cache.insert(k, k),
            || cache.run_pending_tasks(),
        ));
    }
    {
        let cache = quick_cache::sync::Cache::<u64, u64>::new(capacity as usize);
        results.push(fill("quick_cache", capacity, |k| cache.insert(k, k), || {}));
    }
    {
        let cache = moka::sync::Cache::<u64, u64>::new(capacity);
        results.push(fill(
            "moka",
            capacity,
            |k| cache.insert(k, k),
            || cache.run_pending_tasks(),
        ));
    }
    println!();
    println!(
        "| contender | fill ns/insert | churn ns/insert | p99 µs | p99.99 µs | worst insert ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &results {
        println!(
            "| {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} |",
            r.name,
            r.fill.as_nanos() as f64 / capacity as f64,
            r.churn.as_nanos() as f64 / capacity as f64,
            r.percentile(0.99),
            r.percentile(0.9999),
            r.percentile(1.0) / 1e3,
        );
    }
    println!();
    for r in &results {
        println!(
            "fill {} worst_ms={:.1} fill_ns={:.0} churn_ns={:.0}",
            r.name,
            r.percentile(1.0) / 1e3,
            r.fill.as_nanos() as f64 / capacity as f64,
            r.churn.as_nanos() as f64 / capacity as f64,
        );
    }
}
