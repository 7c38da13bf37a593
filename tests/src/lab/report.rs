//! What the lab measured, and how it prints.

use std::fmt;
use std::time::Duration;

/// One time slice of the run, for the chart.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// Requests that finished in the slice.
    pub requests: u64,
    /// Of those, the ones that failed (after retries, or failed fast).
    pub errors: u64,
    /// Their latencies, in microseconds.
    pub latencies_us: Vec<u64>,
    /// The breaker at the end of the slice: 0 closed, 1 half-open, 2 open.
    pub breaker_level: u8,
}

impl Bucket {
    /// Errors over requests (0 when idle).
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    /// The slice's p99 latency in milliseconds (0 when idle).
    pub fn p99_ms(&self) -> f64 {
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        percentile(&v, 0.99).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }
}

/// The `q` quantile of sorted microsecond samples (nearest rank).
pub fn percentile(sorted_us: &[u64], q: f64) -> Option<Duration> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    Some(Duration::from_micros(sorted_us[rank - 1]))
}

/// The latency and error figures of one phase.
#[derive(Debug, Clone)]
pub struct PhaseStats {
    /// The phase's name.
    pub name: &'static str,
    /// Requests made in the phase.
    pub requests: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Requests the open breaker refused without calling the downstream.
    pub failed_fast: u64,
    /// p50, p95 and p99 of the requests' end-to-end latency.
    pub p50: Option<Duration>,
    /// p95.
    pub p95: Option<Duration>,
    /// p99.
    pub p99: Option<Duration>,
}

/// One breaker state change, `at` from the start of the run.
#[derive(Debug, Clone)]
pub struct TransitionAt {
    /// Time since the run began.
    pub at: Duration,
    /// The state left.
    pub from: String,
    /// The state entered.
    pub to: String,
}

/// The lab's report.
#[derive(Debug, Clone)]
pub struct Report {
    /// Seed of the traffic schedule.
    pub seed: u64,
    /// How long the run took.
    pub elapsed: Duration,
    /// Requests the client made (logical requests, before retries).
    pub requests: u64,
    /// Requests that ended in an error.
    pub errors: u64,
    /// Calls that reached the downstream service (attempts that got through).
    pub downstream_calls: u64,
    /// Retries the shared budget refused.
    pub budget_refusals: u64,
    /// Breaker transitions, in order.
    pub transitions: Vec<TransitionAt>,
    /// Figures per phase.
    pub phases: Vec<PhaseStats>,
    /// Front service: requests served.
    pub front_requests: u64,
    /// Cache hit ratio of the front service.
    pub cache_hit_ratio: f64,
    /// Cache misses that joined a load already in flight instead of starting one.
    pub loads_coalesced: u64,
    /// Loader runs the cache started.
    pub loads: u64,
    /// Keys the batch loader sent to the database.
    pub keys_loaded: u64,
    /// Queries the database answered (one per batch).
    pub db_queries: u64,
    /// Front service p99, from its brace-tower RED window.
    pub front_p99: Option<Duration>,
    /// Chart slices.
    pub buckets: Vec<Bucket>,
    /// Where the SVG chart was written.
    pub chart: Option<std::path::PathBuf>,
}

impl Report {
    /// Downstream calls per logical request (1.0 = no retries).
    pub fn amplification(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.downstream_calls as f64 / self.requests as f64
        }
    }

    /// Database queries the batch loader saved (keys loaded minus queries).
    pub fn batch_calls_saved(&self) -> u64 {
        self.keys_loaded.saturating_sub(self.db_queries)
    }

    /// Whether the breaker opened at some point.
    pub fn breaker_opened(&self) -> bool {
        self.transitions.iter().any(|t| t.to == "Open")
    }
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "brace lab report (seed {}, {:.1} s)",
            self.seed,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "  requests               {}", self.requests)?;
        writeln!(
            f,
            "  errors                 {} ({:.1}%)",
            self.errors,
            pct(self.errors, self.requests)
        )?;
        writeln!(f, "  reached the downstream {}", self.downstream_calls)?;
        writeln!(
            f,
            "  retry amplification    {:.2}x (budget refused {} retries)",
            self.amplification(),
            self.budget_refusals
        )?;
        writeln!(f, "  breaker timeline")?;
        if self.transitions.is_empty() {
            writeln!(f, "    (no transitions)")?;
        }
        for t in &self.transitions {
            writeln!(
                f,
                "    {:>6.2}s  {} -> {}",
                t.at.as_secs_f64(),
                t.from,
                t.to
            )?;
        }
        writeln!(
            f,
            "  phase       requests  errors  failed fast     p50       p95       p99"
        )?;
        for p in &self.phases {
            writeln!(
                f,
                "  {:<10} {:>9} {:>7} {:>12} {:>9} {:>9} {:>9}",
                p.name,
                p.requests,
                p.errors,
                p.failed_fast,
                ms(p.p50),
                ms(p.p95),
                ms(p.p99)
            )?;
        }
        writeln!(
            f,
            "  front service (axum + brace-tower metrics + cache + single-flight + batch loader)"
        )?;
        writeln!(
            f,
            "    requests             {} (p99 {})",
            self.front_requests,
            ms(self.front_p99)
        )?;
        writeln!(
            f,
            "    cache hit ratio      {:.1}%",
            self.cache_hit_ratio * 100.0
        )?;
        writeln!(
            f,
            "    loads coalesced      {} (misses that joined a load in flight; {} loads ran)",
            self.loads_coalesced, self.loads
        )?;
        writeln!(
            f,
            "    batch calls saved    {} ({} keys in {} database queries)",
            self.batch_calls_saved(),
            self.keys_loaded,
            self.db_queries
        )?;
        if let Some(path) = &self.chart {
            writeln!(f, "  chart                  {}", path.display())?;
        }
        Ok(())
    }
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}
