//! `compare hitratio`: hit ratios of brace and its peers on real traces and
//! Zipf workloads, next to exact LRU and Belady's OPT bound.
//!
//! brace is measured through its public `Cache` (`brace`) and, to show what
//! the concurrent cache around the policy changes, through the policy alone
//! in a single-threaded map (`policy`, not counted as a peer).
//!
//! Every contender serves the same key stream: a read that hits must return
//! `value_of(key)` (checked on every hit), a read that misses inserts that
//! value. A hit ratio above OPT, or a wrong value, fails the run (panic).
//!
//! Traces: OLTP from the ARC paper (N. Megiddo and D. S. Modha, "ARC: A
//! Self-Tuning, Low Overhead Replacement Cache", USENIX FAST 2003) and the
//! LIRS traces (S. Jiang and X. Zhang, "LIRS: An Efficient Low
//! Inter-reference Recency Set Replacement Policy", SIGMETRICS 2002), read
//! from `$BRACE_TRACES` or `../shared/traces`.

use std::sync::Mutex;
use std::time::Instant;

use crate::harness::Options;
use crate::reference::{ExactLru, lru_hits, opt_hits};
use crate::traces;

/// One key stream at one capacity.
struct Case {
    trace: &'static str,
    keys: std::sync::Arc<Vec<u64>>,
    capacity: usize,
}

/// Hit ratios (percent) of one case.
struct Row {
    trace: &'static str,
    capacity: usize,
    opt: f64,
    lru: f64,
    /// In [`CONTENDERS`] order.
    contenders: Vec<f64>,
}

/// A contender: name, how it is configured, and the number of hits it
/// scores on a key stream at a capacity.
type Contender = (&'static str, &'static str, fn(&[u64], usize) -> u64);

/// brace first, then the peers; the last is brace's policy alone (not a
/// peer). Exact LRU and OPT are computed separately.
const CONTENDERS: &[Contender] = &[
    (
        "brace",
        "brace::cache::Cache::builder().max_capacity(capacity) (W-TinyLFU, window chosen by shadow policies)",
        brace_hits,
    ),
    (
        "moka",
        "moka::sync::Cache::new(capacity) (TinyLFU), run_pending_tasks() after every insert",
        moka_hits,
    ),
    (
        "quick_cache",
        "quick_cache::sync::Cache::new(capacity) (sharded S3-FIFO-like CLOCK-Pro)",
        quick_cache_hits,
    ),
    (
        "mini-moka",
        "mini_moka::sync::Cache::new(capacity) (TinyLFU; maintenance as it schedules itself)",
        mini_moka_hits,
    ),
    (
        "policy",
        "brace's eviction policy alone in a single-threaded map (`PolicySimulator`): what the concurrent cache around it costs or not",
        policy_hits,
    ),
];

/// How many leading [`CONTENDERS`] are brace, then peers; the rest are not
/// peers.
const PEERS: core::ops::Range<usize> = 1..4;

/// The value every contender stores for `key`, checked on each hit.
fn value_of(key: u64) -> u64 {
    key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03
}

/// Replays `keys` through a cache given as `get` and `insert`, checking the
/// value of every hit; returns the hits.
fn replay(
    keys: &[u64],
    mut get: impl FnMut(u64) -> Option<u64>,
    mut insert: impl FnMut(u64, u64),
) -> u64 {
    let mut hits = 0;
    for &key in keys {
        match get(key) {
            Some(value) => {
                assert_eq!(value, value_of(key), "wrong value for key {key}");
                hits += 1;
            }
            None => insert(key, value_of(key)),
        }
    }
    hits
}

fn brace_hits(keys: &[u64], capacity: usize) -> u64 {
    let cache = brace::cache::Cache::<u64, u64>::builder()
        .max_capacity(capacity as u64)
        .build()
        .expect("a valid capacity");
    replay(keys, |k| cache.get(&k), |k, v| cache.insert(k, v))
}

fn policy_hits(keys: &[u64], capacity: usize) -> u64 {
    let sim = std::cell::RefCell::new(brace::cache::PolicySimulator::new(capacity as u64));
    replay(
        keys,
        |k| sim.borrow_mut().get(k),
        |k, v| sim.borrow_mut().insert(k, v),
    )
}

fn moka_hits(keys: &[u64], capacity: usize) -> u64 {
    let cache = moka::sync::Cache::new(capacity as u64);
    replay(
        keys,
        |k| cache.get(&k),
        |k, v| {
            cache.insert(k, v);
            cache.run_pending_tasks();
        },
    )
}

fn quick_cache_hits(keys: &[u64], capacity: usize) -> u64 {
    let cache = quick_cache::sync::Cache::new(capacity.max(1));
    replay(keys, |k| cache.get(&k), |k, v| cache.insert(k, v))
}

fn mini_moka_hits(keys: &[u64], capacity: usize) -> u64 {
    let cache = mini_moka::sync::Cache::new(capacity as u64);
    replay(keys, |k| cache.get(&k), |k, v| cache.insert(k, v))
}

fn lru_checked_hits(keys: &[u64], capacity: usize) -> u64 {
    let lru = std::cell::RefCell::new(ExactLru::new(capacity));
    let hits = replay(
        keys,
        |k| lru.borrow_mut().get(k),
        |k, v| lru.borrow_mut().insert(k, v),
    );
    debug_assert_eq!(hits, lru_hits(keys, capacity));
    hits
}

/// LIRS traces and the capacities measured on each (full run; `--quick`
/// keeps the first two).
const LIRS_TRACES: &[(&str, &[usize])] = &[
    ("loop.trace.gz", &[256, 512, 1000]),
    ("2_pools.trace.gz", &[500, 1000, 2000]),
    ("sprite.trace.gz", &[500, 1000, 2000]),
    ("zigzag.trace.gz", &[500, 1000, 1500]),
    ("scan.trace.gz", &[500, 1000, 1500]),
    ("multi1.trace.gz", &[500, 1000, 2000]),
];

fn cases(opts: &Options) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |trace: &'static str, keys: Vec<u64>, capacities: &[usize]| {
        let keys = std::sync::Arc::new(keys);
        for &capacity in capacities {
            cases.push(Case {
                trace,
                keys: keys.clone(),
                capacity,
            });
        }
    };
    match traces::traces_dir() {
        None => println!(
            "traces folder not found (set {} or provide ../shared/traces): skipping the trace rows",
            traces::TRACES_ENV
        ),
        Some(dir) => {
            let load = |file: &str| {
                traces::load(&dir.join(file))
                    .unwrap_or_else(|e| panic!("reading {}: {e}", dir.join(file).display()))
            };
            add("OLTP", load("OLTP.lis.zst"), &[256, 512, 1000, 2000]);
            for &(file, capacities) in LIRS_TRACES {
                let name = file.trim_end_matches(".trace.gz");
                let capacities = if opts.quick {
                    &capacities[..2]
                } else {
                    capacities
                };
                add(leak(name), load(file), capacities);
            }
        }
    }
    let requests = if opts.quick { 400_000 } else { 2_000_000 };
    add(
        "zipf-0.9",
        traces::zipf(100_000, 0.9, requests, 1),
        &[1000, 10_000],
    );
    add(
        "zipf-1.0",
        traces::zipf(100_000, 1.0, requests, 2),
        &[1000, 10_000],
    );
    add(
        "zipf-1.0-drift",
        traces::zipf_drifting(100_000, 1.0, requests, 3, requests / 8),
        &[1000, 10_000],
    );
    cases
}

fn leak(name: &str) -> &'static str {
    Box::leak(name.to_owned().into_boxed_str())
}

/// Runs of each contender per case (full runs; `--quick` runs each once).
/// Every run builds a new cache, with a new random hash seed, and a row on
/// a short trace moves by up to a few points with the seed (brace's
/// `multi1` at 500 entries was bimodal at one stage), so one run's goal
/// column was partly a draw. So was the median of three: nine seeds of one
/// build gave brace 21.1 to 23.4 on `scan` at 500 entries and three full
/// runs put its median of three at 22.14, 22.91 and 22.99. Five runs.
const RUNS: usize = 5;

fn measure(case: &Case, runs: usize) -> Row {
    let keys = &case.keys[..];
    let percent = |hits: u64| 100.0 * hits as f64 / keys.len() as f64;
    let opt = percent(opt_hits(keys, case.capacity));
    let lru = percent(lru_checked_hits(keys, case.capacity));
    let contenders: Vec<f64> = CONTENDERS
        .iter()
        .map(|(_, _, hits)| {
            let mut ratios: Vec<f64> = (0..runs)
                .map(|_| percent(hits(keys, case.capacity)))
                .collect();
            ratios.sort_by(f64::total_cmp);
            ratios[ratios.len() / 2]
        })
        .collect();
    let names = CONTENDERS.iter().map(|c| c.0).chain(["lru"]);
    for (name, &ratio) in names.zip(contenders.iter().chain([&lru])) {
        assert!(
            ratio <= opt + 1e-9,
            "{name} scored {ratio:.2}% on {} at {}, above OPT {opt:.2}%: the cache or the harness is wrong",
            case.trace,
            case.capacity
        );
    }
    Row {
        trace: case.trace,
        capacity: case.capacity,
        opt,
        lru,
        contenders,
    }
}

/// Runs every case on all cores and prints the table and `hitratio` lines.
pub fn run(opts: &Options) {
    let started = Instant::now();
    let cases = cases(opts);
    let next = Mutex::new(0..cases.len());
    let rows: Mutex<Vec<Option<Row>>> = Mutex::new((0..cases.len()).map(|_| None).collect());
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                // The index is taken in a statement of its own: the guard of
                // a `while let` condition lives through the loop body, which
                // ran the cases one at a time whatever the core count.
                loop {
                    let Some(at) = next.lock().unwrap().next() else {
                        break;
                    };
                    let row = measure(&cases[at], if opts.quick { 1 } else { RUNS });
                    rows.lock().unwrap()[at] = Some(row);
                }
            });
        }
    });
    let rows: Vec<Row> = rows.into_inner().unwrap().into_iter().flatten().collect();
    print_table(&rows);
    println!(
        "\n({} cases in {:.1} s)",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
}

fn print_table(rows: &[Row]) {
    println!("\n## hit ratio (%)\n");
    let names: Vec<&str> = CONTENDERS.iter().map(|c| c.0).collect();
    println!(
        "| trace | capacity | OPT | LRU | {} | goal |",
        names.join(" | ")
    );
    println!("|---|---:|---:|---:|{}---|", "---:|".repeat(names.len()));
    for row in rows {
        let cells: Vec<String> = row.contenders.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "| {} | {} | {:.2} | {:.2} | {} | {} |",
            row.trace,
            row.capacity,
            row.opt,
            row.lru,
            cells.join(" | "),
            verdict(row)
        );
    }
    println!();
    for (name, config, _) in CONTENDERS {
        println!("- {name}: {config}");
    }
    println!(
        "- LRU: exact LRU (`lru` crate); OPT: Belady's bound (evicts, or skips, the key next used furthest away)"
    );
    println!(
        "- each contender's figure is the median of {RUNS} runs, each on a new cache with its own hash seed (`--quick`: one run)"
    );
    println!(
        "- goal: brace within 1 point of the best of LRU and every peer, and above LRU where LRU is not the best\n"
    );
    for row in rows {
        println!(
            "hitratio {} {} brace={:.2} best_peer={:.2} lru={:.2}",
            row.trace,
            row.capacity,
            row.contenders[0],
            best_peer(row),
            row.lru
        );
    }
}

fn best_peer(row: &Row) -> f64 {
    row.contenders[PEERS].iter().copied().fold(0.0, f64::max)
}

fn verdict(row: &Row) -> &'static str {
    let brace = row.contenders[0];
    let best = best_peer(row).max(row.lru);
    let within = brace >= best - 1.0;
    let above_lru = row.lru >= best_peer(row) || brace > row.lru;
    if within && above_lru { "ok" } else { "MISS" }
}
