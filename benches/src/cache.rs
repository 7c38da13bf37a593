//! `compare cache`: read/write throughput on a pre-populated cache against
//! moka (sync), quick_cache (sync), mini-moka (sync) and `Mutex<HashMap>`,
//! plus bytes per entry (from the `cache_bytes` binary, which needs its own
//! counting global allocator).
//!
//! Workload: `KEYS` keys, every one inserted before measuring into caches of
//! capacity `KEYS` (so reads hit and writes replace); the key stream is a
//! precomputed Zipf(1.0) sequence from a seeded PRNG, each thread starting
//! at its own offset. A write stores `key + 1` under `key`. A last table
//! reads a 1,000-key cache the same way (no ratio lines): there every
//! structure fits in the CPU's caches and each read's own work shows.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::harness::{Contender, Options, measure, median_of, print_ratio, print_table};

/// Distinct keys (and capacity of every cache).
pub const KEYS: u64 = 100_000;
/// Distinct keys of the small-cache read table.
const SMALL_KEYS: u64 = 1_000;
/// Length of the precomputed key stream (a power of two).
const STREAM: usize = 1 << 20;

/// A small seeded PRNG (splitmix64): the same stream on every run.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `len` keys in `[0, n)` drawn from Zipf(`s`) (rank 0 most popular), by
/// inverting the cumulative distribution; ranks are scattered over the key
/// space by a fixed odd multiplier so hot keys are not neighbours.
pub fn zipf_keys(n: u64, s: f64, len: usize, seed: u64) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(n as usize);
    let mut total = 0.0;
    for rank in 1..=n {
        total += 1.0 / (rank as f64).powf(s);
        cdf.push(total);
    }
    let mut rng = SplitMix64::new(seed);
    (0..len)
        .map(|_| {
            let u = rng.next_f64() * total;
            let rank = cdf.partition_point(|&c| c < u) as u64;
            rank.min(n - 1).wrapping_mul(0x9E37_79B9) % n
        })
        .collect()
}

/// One read/write mix: `reads` out of every 4 operations are reads.
struct Mix {
    name: &'static str,
    reads_of_4: usize,
}

const MIXES: [Mix; 3] = [
    Mix {
        name: "100-0",
        reads_of_4: 4,
    },
    Mix {
        name: "75-25",
        reads_of_4: 3,
    },
    Mix {
        name: "0-100",
        reads_of_4: 0,
    },
];

const PEERS: [&str; 4] = ["moka", "quick_cache", "mini-moka", "mutex"];

/// A contender running `get`/`insert` over the shared key stream.
fn contender<G, I>(
    name: &str,
    config: &str,
    keys: &Arc<Vec<u64>>,
    mix: &Mix,
    get: G,
    insert: I,
) -> Contender
where
    G: Fn(u64) -> Option<u64> + Send + Sync + 'static,
    I: Fn(u64, u64) + Send + Sync + 'static,
{
    let keys = Arc::clone(keys);
    let reads_of_4 = mix.reads_of_4;
    let next_start = AtomicUsize::new(0);
    Contender::new(name, config, move |n| {
        let start = next_start.fetch_add(STREAM / 7 + 13, Ordering::Relaxed);
        for i in 0..n as usize {
            let key = keys[(start + i) & (STREAM - 1)];
            if i % 4 < reads_of_4 {
                black_box(get(black_box(key)));
            } else {
                insert(black_box(key), key + 1);
            }
        }
    })
}

fn contenders(keys: &Arc<Vec<u64>>, mix: &Mix, count: u64) -> Vec<Contender> {
    let brace = brace::cache::Cache::<u64, u64>::builder()
        .max_capacity(count)
        .build()
        .expect("valid cache config");
    let moka = moka::sync::Cache::<u64, u64>::new(count);
    let quick = quick_cache::sync::Cache::<u64, u64>::new(count as usize);
    let mini = mini_moka::sync::Cache::<u64, u64>::new(count);
    let mutex = Arc::new(Mutex::new(HashMap::<u64, u64>::with_capacity(
        count as usize,
    )));
    for k in 0..count {
        brace.insert(k, k);
        moka.insert(k, k);
        quick.insert(k, k);
        mini.insert(k, k);
        mutex.lock().unwrap().insert(k, k);
    }
    brace.run_pending_tasks();
    moka.run_pending_tasks();
    mini_moka::sync::ConcurrentCacheExt::sync(&mini);
    let (b1, b2) = (brace.clone(), brace);
    let (m1, m2) = (moka.clone(), moka);
    let q1 = Arc::new(quick);
    let q_w = Arc::clone(&q1);
    let (n1, n2) = (mini.clone(), mini);
    let (x1, x2) = (Arc::clone(&mutex), mutex);
    vec![
        contender(
            "brace",
            "Cache::builder().max_capacity(100_000) (W-TinyLFU, entries inline in shards behind striped reader-writer locks)",
            keys,
            mix,
            move |k| b1.get(&k),
            move |k, v| b2.insert(k, v),
        ),
        contender(
            "moka",
            "moka::sync::Cache::new(100_000); run_pending_tasks() after filling",
            keys,
            mix,
            move |k| m1.get(&k),
            move |k, v| m2.insert(k, v),
        ),
        contender(
            "quick_cache",
            "quick_cache::sync::Cache::new(100_000) (default options)",
            keys,
            mix,
            move |k| q1.get(&k),
            move |k, v| q_w.insert(k, v),
        ),
        contender(
            "mini-moka",
            "mini_moka::sync::Cache::new(100_000); sync() after filling",
            keys,
            mix,
            move |k| n1.get(&k),
            move |k, v| n2.insert(k, v),
        ),
        contender(
            "mutex",
            "std Mutex<std HashMap> (no eviction), the floor",
            keys,
            mix,
            move |k| x1.lock().unwrap().get(&k).copied(),
            move |k, v| {
                x2.lock().unwrap().insert(k, v);
            },
        ),
    ]
}

/// Runs the `cache` area.
pub fn run(opts: &Options) {
    println!("## cache: throughput, Zipf(1.0) over {KEYS} keys, pre-populated");
    let keys = Arc::new(zipf_keys(KEYS, 1.0, STREAM, 0x5EED));
    let mut ratios = Vec::new();
    for mix in &MIXES {
        for threads in [1usize, 2] {
            let results = measure(&contenders(&keys, mix, KEYS), threads, opts);
            print_table(
                &format!(
                    "cache {} (reads-writes %), {threads} thread(s), ns/op",
                    mix.name
                ),
                &results,
                "brace",
            );
            let brace = median_of(&results, "brace");
            for peer in PEERS {
                ratios.push((
                    format!("{} {threads}t", mix.name),
                    peer,
                    brace / median_of(&results, peer),
                ));
            }
        }
    }
    // A small cache: every policy structure fits in the CPU's caches, so
    // what shows is each read's own work (no ratio lines: the mixes
    // are the 100,000-key ones above).
    let small_keys = Arc::new(zipf_keys(SMALL_KEYS, 1.0, STREAM, 0x5EED));
    for threads in [1usize, 2] {
        let results = measure(
            &contenders(&small_keys, &MIXES[0], SMALL_KEYS),
            threads,
            opts,
        );
        print_table(
            &format!("cache 100-0 over {SMALL_KEYS} keys, {threads} thread(s), ns/op"),
            &results,
            "brace",
        );
    }
    if opts.quick {
        println!(
            "\n(bytes per entry: skipped under --quick, it takes ~40 s; run `cargo run --release -p brace-benches --bin cache_bytes`)"
        );
    } else {
        print_bytes_per_entry();
    }
    println!();
    for (case, peer, x) in ratios {
        print_ratio("cache", &case, peer, x);
    }
}

/// Runs the `cache_bytes` binary next to this one (it needs its own global
/// allocator) and prints its table.
fn print_bytes_per_entry() {
    let bin = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("cache_bytes")));
    match bin.map(|b| std::process::Command::new(b).output()) {
        Some(Ok(out)) if out.status.success() => {
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
        _ => println!(
            "\n(bytes per entry: build and run `cargo run --release -p brace-benches --bin cache_bytes`)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_keys_are_in_range_skewed_and_reproducible() {
        let a = zipf_keys(1000, 1.0, 10_000, 1);
        assert_eq!(a, zipf_keys(1000, 1.0, 10_000, 1));
        assert!(a.iter().all(|&k| k < 1000));
        let hottest = a.iter().filter(|&&k| k == 0).count();
        // Rank 1 of Zipf(1.0) over 1000 keys has probability ~13%.
        assert!((1000..1700).contains(&hottest), "{hottest}");
    }
}
