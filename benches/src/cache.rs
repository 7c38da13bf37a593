//! `compare cache`: read/write throughput on a pre-populated cache against
//! moka (sync), quick_cache (sync), mini-moka (sync) and `Mutex<HashMap>`,
//! plus bytes per entry (from the `cache_bytes` binary, which needs its own
//! counting global allocator).
//!
//! Workload: `KEYS` keys, every one inserted before measuring into caches of
//! capacity `KEYS` (so reads hit and writes replace); the key stream is a
//! precomputed Zipf(1.0) sequence from a seeded PRNG, each thread starting
//! at its own offset. A write stores `key + 1` under `key`. Two more tables
//! have no ratio lines: reads of the same cache through each peer's
//! compute-if-absent call (brace's and moka's `get_with`, quick_cache's
//! `get_or_insert_with`; every key inserted first, so what cache-aside
//! code pays on a hit), and reads of a 1,000-key cache, where every structure fits
//! in the CPU's caches and each read's own work shows.
//!
//! # Warm-up
//!
//! Each mix builds and fills its caches once, then every contender runs
//! `WARM_UP_OPS` operations of the mix on one thread before the 1- and
//! 2-thread tables are timed, as criterion warms a benchmark up before
//! sampling: the tables show each cache's steady state. Without it what
//! is timed depends on the run's length, because a freshly filled cache
//! is slower for its first few million reads (brace reports the first
//! hits of every entry to its policy, and those reports touch structures
//! the size of the cache; quick_cache and moka have transients of their
//! own). That transient gets its own table, `cold`: the first
//! `COLD_READS` reads of freshly filled caches, one thread, median of
//! `COLD_REPEATS` fills.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::harness::{
    Contender, Measured, Options, measure, median_of, median_sorted, print_ratio, print_table,
    time_threads,
};

/// Distinct keys (and capacity of every cache).
pub const KEYS: u64 = 100_000;
/// Distinct keys of the small-cache read table.
const SMALL_KEYS: u64 = 1_000;
/// Length of the precomputed key stream (a power of two).
const STREAM: usize = 1 << 20;
/// Operations each contender runs before a mix is timed: four passes over
/// the key stream (brace's transient after a bulk fill of 100,000 entries
/// lasts about three million reads on the benchmark VM).
const WARM_UP_OPS: u64 = 4 * STREAM as u64;
/// Reads timed by the `cold` table: one pass over the key stream.
const COLD_READS: u64 = STREAM as u64;
/// Fresh fills the `cold` table takes the median of.
const COLD_REPEATS: usize = 3;

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

/// Every cache of the comparison, each holding the keys `0..count` (value =
/// key) with its pending maintenance run.
struct Filled {
    brace: brace::cache::Cache<u64, u64>,
    moka: moka::sync::Cache<u64, u64>,
    quick: Arc<quick_cache::sync::Cache<u64, u64>>,
    mini: mini_moka::sync::Cache<u64, u64>,
    mutex: Arc<Mutex<HashMap<u64, u64>>>,
}

impl Filled {
    /// Caches of capacity `count`, filled.
    fn new(count: u64) -> Self {
        let brace = brace::cache::Cache::<u64, u64>::builder()
            .max_capacity(count)
            .build()
            .expect("valid cache config");
        let moka = moka::sync::Cache::<u64, u64>::new(count);
        let quick = quick_cache::sync::Cache::<u64, u64>::new(count as usize);
        let mini = mini_moka::sync::Cache::<u64, u64>::new(count);
        let mutex = HashMap::<u64, u64>::with_capacity(count as usize);
        let mutex = Arc::new(Mutex::new(mutex));
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
        Filled {
            brace,
            moka,
            quick: Arc::new(quick),
            mini,
            mutex,
        }
    }
}

fn contenders(keys: &Arc<Vec<u64>>, mix: &Mix, count: u64) -> Vec<Contender> {
    let Filled {
        brace,
        moka,
        quick,
        mini,
        mutex,
    } = Filled::new(count);
    let (b1, b2) = (brace.clone(), brace);
    let (m1, m2) = (moka.clone(), moka);
    let (q1, q_w) = (Arc::clone(&quick), quick);
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
        let contenders = warmed_up(contenders(&keys, mix, KEYS));
        for threads in [1usize, 2] {
            let results = measure(&contenders, threads, opts);
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
    // Reads through the compute-if-absent calls: what cache-aside code
    // pays on a hit (no ratio lines: not one of the mixes).
    let computing = warmed_up(get_with_contenders(&keys, KEYS));
    for threads in [1usize, 2] {
        let results = measure(&computing, threads, opts);
        print_table(
            &format!(
                "cache get_with hits over {KEYS} keys (brace and moka get_with, quick_cache get_or_insert_with), {threads} thread(s), ns/op"
            ),
            &results,
            "brace",
        );
    }
    // A small cache: every policy structure fits in the CPU's caches, so
    // what shows is each read's own work (no ratio lines: the mixes
    // are the 100,000-key ones above).
    let small_keys = Arc::new(zipf_keys(SMALL_KEYS, 1.0, STREAM, 0x5EED));
    let small = warmed_up(contenders(&small_keys, &MIXES[0], SMALL_KEYS));
    for threads in [1usize, 2] {
        let results = measure(&small, threads, opts);
        print_table(
            &format!("cache 100-0 over {SMALL_KEYS} keys, {threads} thread(s), ns/op"),
            &results,
            "brace",
        );
    }
    print_cold(&keys);
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

/// Pre-populated caches read through their compute-if-absent calls. Every
/// key was inserted, but a cache may not have kept them all (quick_cache
/// and moka turn some away at full capacity): `init` stores the same value
/// again, as a cache-aside load would.
fn get_with_contenders(keys: &Arc<Vec<u64>>, count: u64) -> Vec<Contender> {
    let Filled {
        brace,
        moka,
        quick,
        mutex,
        ..
    } = Filled::new(count);
    let reads = &MIXES[0];
    let load = |k: u64| k;
    vec![
        contender(
            "brace",
            "Cache::get_with(key, init)",
            keys,
            reads,
            move |k| Some(brace.get_with(k, || load(k))),
            |_, _| {},
        ),
        contender(
            "moka",
            "moka::sync::Cache::get_with(key, init)",
            keys,
            reads,
            move |k| Some(moka.get_with(k, || load(k))),
            |_, _| {},
        ),
        contender(
            "quick_cache",
            "quick_cache::sync::Cache::get_or_insert_with(&key, init)",
            keys,
            reads,
            move |k| {
                quick
                    .get_or_insert_with(&k, || Ok::<_, std::convert::Infallible>(load(k)))
                    .ok()
            },
            |_, _| {},
        ),
        contender(
            "mutex",
            "std Mutex<std HashMap>: entry(key).or_insert_with(init), the floor",
            keys,
            reads,
            move |k| Some(*mutex.lock().unwrap().entry(k).or_insert_with(|| load(k))),
            |_, _| {},
        ),
    ]
}

/// `contenders` after each has run `WARM_UP_OPS` operations of its
/// workload on the calling thread (see the module docs).
fn warmed_up(contenders: Vec<Contender>) -> Vec<Contender> {
    for contender in &contenders {
        (contender.run)(WARM_UP_OPS);
    }
    contenders
}

/// Prints the `cold` table: the first `COLD_READS` reads of freshly
/// filled caches at one thread, each contender's median over
/// `COLD_REPEATS` fills (a cache is cold once, so each fill is one sample;
/// the order of contenders rotates between fills).
fn print_cold(keys: &Arc<Vec<u64>>) {
    let mut samples: Vec<Vec<f64>> = Vec::new();
    let mut names = Vec::new();
    for repeat in 0..COLD_REPEATS {
        let fresh = contenders(keys, &MIXES[0], KEYS);
        if names.is_empty() {
            names = fresh
                .iter()
                .map(|c| (c.name.clone(), c.config.clone()))
                .collect();
            samples = vec![Vec::with_capacity(COLD_REPEATS); fresh.len()];
        }
        for k in 0..fresh.len() {
            let i = (repeat + k) % fresh.len();
            let time = time_threads(&fresh[i].run, 1, COLD_READS);
            samples[i].push(time.as_nanos() as f64 / COLD_READS as f64);
        }
    }
    let results: Vec<Measured> = names
        .into_iter()
        .zip(samples)
        .map(|((name, config), mut s)| {
            s.sort_by(f64::total_cmp);
            Measured {
                name,
                config,
                median_ns: median_sorted(&s),
                min_ns: s[0],
                max_ns: s[s.len() - 1],
            }
        })
        .collect();
    print_table(
        &format!(
            "cache cold: the first {COLD_READS} reads (100-0) after filling {KEYS} keys, 1 thread, ns/op, median of {COLD_REPEATS} fills"
        ),
        &results,
        "brace",
    );
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
