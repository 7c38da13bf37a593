//! `compare metrics`: the cost of recording one latency, at 1 and 2
//! threads, and the accuracy and memory of each contender.
//!
//! Every contender records the same 4096 lognormal latencies (median 1 ms,
//! sigma 1), cycled. Peers are configured the way their docs suggest for
//! latencies at ~1% precision; the notes under each table say how.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use brace::metrics::{Histogram, HistogramConfig, Outcome, Red, WindowConfig};
use brace::time::{Clock, SystemClock};
use prometheus_client::metrics::histogram::{Histogram as PromHistogram, exponential_buckets};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, LogNormal, Pareto};
use sketches_ddsketch::{Config as DdConfig, DDSketch};
use std::hint::black_box;

mod accuracy;

use crate::harness::{Contender, Options, measure, median_of, print_ratio, print_table};

const SAMPLE_MASK: usize = 4095;
/// metrics-util's bucket is drained after this many records per thread.
const DRAIN_EVERY: u64 = 1_000_000;
const PEERS: [&str; 4] = [
    "hdrhistogram",
    "ddsketch",
    "metrics-util",
    "prometheus-client",
];

/// Latencies in nanoseconds, lognormal with median 1 ms.
pub(crate) fn lognormal_samples(n: usize, seed: u64) -> Vec<u64> {
    let d = LogNormal::new((1e-3f64).ln(), 1.0).expect("valid lognormal");
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| ((d.sample(&mut rng) * 1e9) as u64).clamp(1_000, 3_600_000_000_000))
        .collect()
}

pub(crate) fn pareto_samples(n: usize, seed: u64) -> Vec<u64> {
    let d = Pareto::new(100e-6, 1.1).expect("valid pareto");
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| ((d.sample(&mut rng) * 1e9) as u64).clamp(1_000, 3_600_000_000_000))
        .collect()
}

pub(crate) fn hdr() -> hdrhistogram::Histogram<u64> {
    // 2 significant digits: HdrHistogram's setting for ~1% (it gives 0.4%).
    hdrhistogram::Histogram::new_with_bounds(1_000, 3_600_000_000_000, 2).expect("valid bounds")
}

pub(crate) fn ddsketch() -> DDSketch {
    // The crate's defaults: alpha 1%, at most 2048 bins.
    DDSketch::new(DdConfig::defaults())
}

pub(crate) fn prom() -> PromHistogram {
    // Seconds, doubling from 1 µs: 32 buckets cover 1 µs .. 36 min.
    PromHistogram::new(exponential_buckets(1e-6, 2.0, 32))
}

/// The record-path contenders; each call of a workload records `n` samples.
fn contenders(threads: usize) -> Vec<Contender> {
    let samples: Arc<[u64]> = lognormal_samples(SAMPLE_MASK + 1, 7).into();
    let mut out = Vec::new();

    let red = Arc::new(Red::new(WindowConfig::default(), SystemClock::new()));
    let (s, r) = (Arc::clone(&samples), Arc::clone(&red));
    out.push(Contender::new(
        "brace",
        "Red window (60 s / 5 slots, 2 stripes, 1%); `record_nanos_at(now, ns, ..)` with \
         the caller's end-of-request timestamp (read from SystemClock every 256 records)",
        move |n| {
            let mut now = r.clock().now();
            for i in 0..n as usize {
                if i & 255 == 0 {
                    now = r.clock().now();
                }
                r.record_nanos_at(now, black_box(s[i & SAMPLE_MASK]), Outcome::Success);
            }
        },
    ));

    let (s, r) = (Arc::clone(&samples), Arc::clone(&red));
    out.push(Contender::new(
        "brace-with-clock",
        "same Red window, `record(..)`: reads SystemClock (Instant::now) on every record",
        move |n| {
            for i in 0..n as usize {
                let v = s[i & SAMPLE_MASK];
                r.record(Duration::from_nanos(black_box(v)), Outcome::Success);
            }
        },
    ));

    let hist = Arc::new(Histogram::new(HistogramConfig::default()));
    let s = Arc::clone(&samples);
    out.push(Contender::new(
        "brace-histogram",
        "standalone Histogram (1%, u64 atomic counters, no window, one shared array)",
        move |n| {
            for i in 0..n as usize {
                hist.record_nanos(black_box(s[i & SAMPLE_MASK]));
            }
        },
    ));

    let s = Arc::clone(&samples);
    if threads == 1 {
        out.push(Contender::new(
            "hdrhistogram",
            "plain Histogram<u64>, 1 µs..1 h, 2 significant digits, `record` (not thread-safe)",
            move |n| {
                let mut h = hdr();
                for i in 0..n as usize {
                    h.record(black_box(s[i & SAMPLE_MASK])).expect("in range");
                }
                black_box(h.len());
            },
        ));
    } else {
        let sync = Arc::new(Mutex::new(hdr().into_sync()));
        out.push(Contender::new(
            "hdrhistogram",
            "SyncHistogram, one Recorder per thread (thread-local histogram merged on refresh)",
            move |n| {
                let mut rec = sync.lock().expect("not poisoned").recorder();
                for i in 0..n as usize {
                    rec.record(black_box(s[i & SAMPLE_MASK])).expect("in range");
                }
            },
        ));
    }

    let s = Arc::clone(&samples);
    if threads == 1 {
        out.push(Contender::new(
            "ddsketch",
            "sketches-ddsketch DDSketch, Config::defaults() (1%, 2048 bins), `add`",
            move |n| {
                let mut d = ddsketch();
                for i in 0..n as usize {
                    d.add(black_box(s[i & SAMPLE_MASK]) as f64);
                }
                black_box(d.count());
            },
        ));
    } else {
        let shared = Arc::new(Mutex::new(ddsketch()));
        out.push(Contender::new(
            "ddsketch",
            "one DDSketch (Config::defaults()) behind a std Mutex, locked per record",
            move |n| {
                for i in 0..n as usize {
                    let v = black_box(s[i & SAMPLE_MASK]) as f64;
                    shared.lock().expect("not poisoned").add(v);
                }
            },
        ));
    }

    let bucket = Arc::new(metrics_util::storage::AtomicBucket::<u64>::new());
    let summary = Arc::new(Mutex::new(metrics_util::storage::Summary::with_defaults()));
    let s = Arc::clone(&samples);
    out.push(Contender::new(
        "metrics-util",
        "AtomicBucket<u64> `push`; every 1M records per thread drained with `clear_with` \
         into a Summary::with_defaults() (as metrics-exporter-prometheus does), drain timed",
        move |n| {
            for i in 0..n {
                bucket.push(black_box(s[i as usize & SAMPLE_MASK]));
                if (i + 1) % DRAIN_EVERY == 0 {
                    let mut sum = summary.lock().expect("not poisoned");
                    bucket.clear_with(|block| block.iter().for_each(|&v| sum.add(v as f64)));
                }
            }
        },
    ));

    let h = prom();
    let s = Arc::clone(&samples);
    out.push(Contender::new(
        "prometheus-client",
        "Histogram with exponential_buckets(1e-6 s, x2, 32), shared clone, `observe` (seconds)",
        move |n| {
            for i in 0..n as usize {
                h.observe(black_box(s[i & SAMPLE_MASK]) as f64 * 1e-9);
            }
        },
    ));
    out
}

/// Runs the area: record timings at 1 and 2 threads, then accuracy and
/// memory, then the `ratio` lines.
pub fn run(opts: &Options) {
    println!("\n## metrics: record one latency (ns per record per thread)");
    let one = measure(&contenders(1), 1, opts);
    print_table("metrics, 1 thread", &one, "brace");
    let two = measure(&contenders(2), 2, opts);
    print_table("metrics, 2 threads", &two, "brace");
    accuracy::print_table(opts);
    let brace1 = median_of(&one, "brace");
    let brace2 = median_of(&two, "brace");
    for peer in PEERS {
        print_ratio("metrics", "1t", peer, brace1 / median_of(&one, peer));
    }
    for peer in PEERS {
        print_ratio("metrics", "2t", peer, brace2 / median_of(&two, peer));
    }
    print_ratio("metrics", "2t", "brace-1t", brace2 / brace1);
    // hdrhistogram's recorders share nothing between threads, so its own
    // 2t/1t shows what the machine allows (1.0 on two idle cores).
    let control = median_of(&two, "hdrhistogram") / median_of(&one, "hdrhistogram");
    println!("note: control hdrhistogram (thread-local) 2t/1t = {control:.3}");
}
