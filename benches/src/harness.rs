//! Interleaved, same-process timing of several contenders on one workload.
//!
//! A contender is a function that performs `n` operations. For `T` threads
//! the harness starts `T` threads, releases them together through a barrier,
//! lets each perform `n` operations and takes the wall time until the last
//! one finishes. The time per operation is that wall time divided by `n`:
//! the cost of one operation as each thread sees it, so perfect scaling
//! keeps it flat from 1 to 2 threads.
//!
//! Rounds are interleaved: round `r` runs every contender once, starting at
//! contender `r mod len`, so drift on a shared machine (frequency scaling,
//! a noisy neighbour) spreads over all contenders instead of one. The
//! reported figure is the median over rounds.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Run-wide settings parsed from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--quick`: fewer rounds and shorter measurements (a run of one area
    /// stays under about a minute on 2 cores).
    pub quick: bool,
    /// Interleaved rounds per contender.
    pub rounds: usize,
    /// Target wall time of one measurement.
    pub sample: Duration,
}

impl Options {
    /// Options for a full or a quick run.
    pub fn new(quick: bool) -> Self {
        if quick {
            Options {
                quick,
                rounds: 5,
                sample: Duration::from_millis(40),
            }
        } else {
            Options {
                quick,
                rounds: 11,
                sample: Duration::from_millis(150),
            }
        }
    }
}

/// Performs `n` operations of the workload (called once per thread).
pub type Workload = Arc<dyn Fn(u64) + Send + Sync>;

/// A named workload.
#[derive(Clone)]
pub struct Contender {
    /// Name printed in tables and in `ratio` lines.
    pub name: String,
    /// How it is configured, printed under the table.
    pub config: String,
    /// The operations.
    pub run: Workload,
}

impl std::fmt::Debug for Contender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contender")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Contender {
    /// A contender from a name, a configuration note and a workload.
    pub fn new(
        name: impl Into<String>,
        config: impl Into<String>,
        run: impl Fn(u64) + Send + Sync + 'static,
    ) -> Self {
        Contender {
            name: name.into(),
            config: config.into(),
            run: Arc::new(run),
        }
    }
}

/// Median, minimum and maximum nanoseconds per operation of one contender.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Contender name.
    pub name: String,
    /// Configuration note.
    pub config: String,
    /// Median over rounds.
    pub median_ns: f64,
    /// Fastest round.
    pub min_ns: f64,
    /// Slowest round.
    pub max_ns: f64,
}

/// Wall time for `threads` threads each running `n` operations.
pub fn time_threads(run: &Workload, threads: usize, n: u64) -> Duration {
    if threads == 1 {
        let start = Instant::now();
        run(n);
        return start.elapsed();
    }
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let run = Arc::clone(run);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                run(n);
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().expect("benchmark thread panicked");
    }
    start.elapsed()
}

/// Finds an operation count whose measurement takes about `target`.
fn calibrate(run: &Workload, threads: usize, target: Duration) -> u64 {
    let mut n: u64 = 64;
    loop {
        let t = time_threads(run, threads, n);
        if t >= target / 8 || n >= 1 << 34 {
            let per_op = t.as_secs_f64() / n as f64;
            let want = (target.as_secs_f64() / per_op.max(1e-12)) as u64;
            return want.clamp(16, 1 << 36);
        }
        n *= 4;
    }
}

/// Measures every contender at `threads` threads over interleaved rounds.
pub fn measure(contenders: &[Contender], threads: usize, opts: &Options) -> Vec<Measured> {
    let counts: Vec<u64> = contenders
        .iter()
        .map(|c| calibrate(&c.run, threads, opts.sample))
        .collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(opts.rounds); contenders.len()];
    for round in 0..opts.rounds {
        for k in 0..contenders.len() {
            let i = (round + k) % contenders.len();
            let t = time_threads(&contenders[i].run, threads, counts[i]);
            samples[i].push(t.as_nanos() as f64 / counts[i] as f64);
        }
    }
    contenders
        .iter()
        .zip(samples)
        .map(|(c, mut s)| {
            s.sort_by(|a, b| a.total_cmp(b));
            Measured {
                name: c.name.clone(),
                config: c.config.clone(),
                median_ns: median_sorted(&s),
                min_ns: s[0],
                max_ns: s[s.len() - 1],
            }
        })
        .collect()
}

/// The median of an ascending slice (mean of the middle two when even).
pub fn median_sorted(s: &[f64]) -> f64 {
    assert!(!s.is_empty(), "median of nothing");
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// Prints a markdown table of `results`, with each row's ratio
/// `brace / row` (below 1 means brace is faster).
pub fn print_table(title: &str, results: &[Measured], brace: &str) {
    let brace_ns = results
        .iter()
        .find(|m| m.name == brace)
        .map(|m| m.median_ns)
        .unwrap_or(f64::NAN);
    println!("\n### {title}\n");
    println!("| contender | median ns/op | min | max | brace/contender |");
    println!("|---|---:|---:|---:|---:|");
    for m in results {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.3} |",
            m.name,
            m.median_ns,
            m.min_ns,
            m.max_ns,
            brace_ns / m.median_ns
        );
    }
    println!();
    for m in results {
        if !m.config.is_empty() {
            println!("- `{}`: {}", m.name, m.config);
        }
    }
}

/// The median of the contender named `name`.
///
/// # Panics
///
/// Panics if no contender has that name (a bug in the area module).
pub fn median_of(results: &[Measured], name: &str) -> f64 {
    results
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no contender named {name}"))
        .median_ns
}

/// Prints the machine-readable line `ratio <area> <case> brace/<peer> = <x>`.
pub fn print_ratio(area: &str, case: &str, peer: &str, x: f64) {
    println!("ratio {area} {case} brace/{peer} = {x:.3}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median_sorted(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median_sorted(&[1.0, 2.0, 4.0, 9.0]), 3.0);
    }

    #[test]
    fn measure_counts_every_operation_on_every_thread() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let ops = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&ops);
        let c = Contender::new("count", "", move |n| {
            seen.fetch_add(n, Ordering::Relaxed);
        });
        let t = time_threads(&c.run, 2, 1000);
        assert!(t > Duration::ZERO);
        assert_eq!(ops.load(Ordering::Relaxed), 2000);
    }
}
