//! The lab: a flaky downstream on 127.0.0.1, traffic through reqwest +
//! brace-reqwest (per-host breaker, retry under a shared budget, RED
//! metrics), and a front service guarded by brace's cache, single-flight and
//! batch loader. [`run`] drives it and returns a [`Report`]; the `lab`
//! example prints it, the `lab` test checks its invariants.

mod chart;
mod downstream;
mod front;
mod report;
mod schedule;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brace::breaker::{Config, State};
use brace::metrics::WindowConfig;
use brace::retry::{Backoff, RetryBudget, RetryPolicy};
use brace_reqwest::{
    BreakerMiddleware, CircuitOpen, GaveUp, MetricsMiddleware, RetryFailed, RetryMiddleware,
    RetryOutcome,
};
use brace_tokio::TokioClock;
use tokio::task::JoinSet;

pub use report::{Bucket, PhaseStats, Report, TransitionAt, percentile};
pub use schedule::{Phase, Rng};

/// How to run the lab.
#[derive(Debug, Clone)]
pub struct Options {
    /// Length of the run (four equal phases).
    pub duration: Duration,
    /// Seed of the traffic schedule.
    pub seed: u64,
    /// Print the live status line.
    pub progress: bool,
    /// Where to write `lab.svg` (`None`: no chart).
    pub chart_dir: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            duration: Duration::from_secs(20),
            seed: 42,
            progress: true,
            chart_dir: None,
        }
    }
}

/// The interval at which the schedule issues requests.
const TICK: Duration = Duration::from_millis(20);
/// The chart's time slice.
const SLICE: Duration = Duration::from_millis(250);

/// One finished client request.
#[derive(Debug, Clone, Copy)]
struct Sample {
    finished: Duration,
    latency: Duration,
    phase: Phase,
    ok: bool,
    failed_fast: bool,
    budget_refused: bool,
}

fn level(state: Option<State>) -> u8 {
    match state {
        Some(State::Open | State::ForcedOpen) => 2,
        Some(State::HalfOpen) => 1,
        _ => 0,
    }
}

/// Runs the lab and returns its report (and writes the chart if asked).
///
/// # Errors
///
/// When a port cannot be bound, a configuration is refused, or the chart
/// cannot be written.
pub async fn run(opts: Options) -> Result<Report, Box<dyn std::error::Error>> {
    let (downstream, down_url) = downstream::start().await?;
    let (front, front_url) = front::start(Duration::from_millis(400)).await?;
    let clock = TokioClock::new();
    let started = Instant::now();
    let transitions: Arc<Mutex<Vec<TransitionAt>>> = Arc::default();

    // Breaker: opens when half of the last 20 calls failed; the open time
    // scales with the run so a short smoke run still sees a recovery.
    let open_for = (opts.duration / 16).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let log = transitions.clone();
    let breaker_config = Config::builder()
        .failure_rate(0.5)
        .count_window(20)
        .minimum_calls(10)
        .open_duration(open_for)
        .permitted_calls_in_half_open(3)
        .on_transition(move |t| {
            log.lock().unwrap().push(TransitionAt {
                at: started.elapsed(),
                from: format!("{:?}", t.from),
                to: format!("{:?}", t.to),
            })
        })
        .build()?;
    let breaker = BreakerMiddleware::new(breaker_config)?;
    let breakers = breaker.registry().clone();
    let policy =
        RetryPolicy::builder(Backoff::exponential(Duration::from_millis(10), 2.0).build()?)
            .max_attempts(3)
            .build()?;
    let budget = Arc::new(
        RetryBudget::builder()
            .ratio(0.2)
            .min_retries_per_sec(5)
            .build(clock)?,
    );
    let metrics = MetricsMiddleware::new(WindowConfig::default());
    let http = reqwest::Client::builder().no_proxy().build()?;
    let client = reqwest_middleware::ClientBuilder::new(http.clone())
        .with(
            RetryMiddleware::builder(policy)
                .budget(budget)
                .attempt_timeout(Duration::from_millis(500))
                .seed(opts.seed)
                .build()?,
        )
        .with(breaker)
        .with(metrics)
        .build();
    let host = down_url.trim_start_matches("http://").to_string();

    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let mut rng = Rng::new(opts.seed);
    let mut tasks = JoinSet::new();
    let mut front_requests = 0u64;
    let mut breaker_levels = Vec::new();
    let mut current = None;
    let mut next_status = Duration::ZERO;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let elapsed = started.elapsed();
        if elapsed >= opts.duration {
            break;
        }
        let phase = Phase::at(elapsed, opts.duration);
        if current != Some(phase) {
            downstream.set_phase(phase);
            if opts.progress && current.is_some() {
                println!();
            }
            current = Some(phase);
        }
        // Downstream traffic: 1-3 requests per 20 ms tick (~100 rps).
        for _ in 0..rng.range(1, 3) {
            let client = client.clone();
            let url = format!("{down_url}/item");
            let samples = samples.clone();
            tasks.spawn(async move {
                let t0 = Instant::now();
                let result = client.get(&url).send().await;
                let latency = t0.elapsed();
                let (ok, failed_fast, budget_refused) = match &result {
                    Ok(resp) => (
                        resp.status().is_success(),
                        false,
                        RetryOutcome::of(resp).and_then(|o| o.gave_up)
                            == Some(GaveUp::BudgetExhausted),
                    ),
                    Err(e) => (
                        false,
                        CircuitOpen::find(e).is_some(),
                        RetryFailed::find(e).map(|f| f.reason()) == Some(GaveUp::BudgetExhausted),
                    ),
                };
                let finished = started.elapsed();
                samples.lock().unwrap().push(Sample {
                    finished,
                    latency,
                    phase,
                    ok,
                    failed_fast,
                    budget_refused,
                });
            });
        }
        // Front traffic: a burst of skewed user ids every other tick.
        if rng.range(0, 1) == 0 {
            for _ in 0..rng.range(2, 6) {
                let url = format!("{front_url}/user/{}", rng.skewed(60));
                let http = http.clone();
                front_requests += 1;
                tasks.spawn(async move {
                    let _ = http.get(&url).send().await;
                });
            }
        }
        while tasks.try_join_next().is_some() {}
        let slice = (elapsed.as_nanos() / SLICE.as_nanos()) as usize;
        if breaker_levels.len() <= slice {
            breaker_levels.resize(slice + 1, 0);
        }
        breaker_levels[slice] = breaker_levels[slice].max(level(breakers.state(host.as_str())));
        if opts.progress && elapsed >= next_status {
            next_status = elapsed + Duration::from_millis(200);
            print_status(
                phase,
                elapsed,
                &samples.lock().unwrap(),
                breakers.state(host.as_str()),
            );
        }
    }
    while tasks.join_next().await.is_some() {}
    if opts.progress {
        println!();
    }
    let elapsed = started.elapsed();

    let samples = samples.lock().unwrap().clone();
    let mut buckets = vec![Bucket::default(); breaker_levels.len().max(1)];
    for (b, l) in buckets.iter_mut().zip(&breaker_levels) {
        b.breaker_level = *l;
    }
    for s in &samples {
        let i = ((s.finished.as_nanos() / SLICE.as_nanos()) as usize).min(buckets.len() - 1);
        buckets[i].requests += 1;
        buckets[i].errors += u64::from(!s.ok);
        buckets[i].latencies_us.push(s.latency.as_micros() as u64);
    }
    let phases = Phase::ALL
        .iter()
        .map(|&p| {
            let of: Vec<&Sample> = samples.iter().filter(|s| s.phase == p).collect();
            let mut lat: Vec<u64> = of.iter().map(|s| s.latency.as_micros() as u64).collect();
            lat.sort_unstable();
            PhaseStats {
                name: p.name(),
                requests: of.len() as u64,
                errors: of.iter().filter(|s| !s.ok).count() as u64,
                failed_fast: of.iter().filter(|s| s.failed_fast).count() as u64,
                p50: percentile(&lat, 0.50),
                p95: percentile(&lat, 0.95),
                p99: percentile(&lat, 0.99),
            }
        })
        .collect();
    let cache = front.cache.stats();
    let loader = front.loader.stats();
    let mut report = Report {
        seed: opts.seed,
        elapsed,
        requests: samples.len() as u64,
        errors: samples.iter().filter(|s| !s.ok).count() as u64,
        downstream_calls: downstream.hits(),
        budget_refusals: samples.iter().filter(|s| s.budget_refused).count() as u64,
        transitions: transitions.lock().unwrap().clone(),
        phases,
        front_requests,
        cache_hit_ratio: cache.hit_ratio(),
        loads_coalesced: cache.misses.saturating_sub(cache.loads),
        loads: cache.loads,
        keys_loaded: loader.keys_sent,
        db_queries: front.db.queries(),
        front_p99: front.red.snapshot().p99(),
        buckets,
        chart: None,
    };
    if let Some(dir) = &opts.chart_dir {
        std::fs::create_dir_all(dir)?;
        let path = dir.canonicalize()?.join("lab.svg");
        let quarter = opts.duration.as_secs_f64() / 4.0;
        let bounds: Vec<(f64, &str)> = Phase::ALL
            .iter()
            .enumerate()
            .map(|(i, p)| (i as f64 * quarter, p.name()))
            .collect();
        std::fs::write(
            &path,
            chart::render(&report.buckets, SLICE.as_secs_f64(), &bounds),
        )?;
        report.chart = Some(path);
    }
    Ok(report)
}

fn print_status(phase: Phase, elapsed: Duration, samples: &[Sample], state: Option<State>) {
    let recent: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.finished + Duration::from_secs(1) >= elapsed)
        .collect();
    let errors = recent.iter().filter(|s| !s.ok).count();
    let mut lat: Vec<u64> = recent
        .iter()
        .map(|s| s.latency.as_micros() as u64)
        .collect();
    lat.sort_unstable();
    let p99 = percentile(&lat, 0.99).map_or(0.0, |d| d.as_secs_f64() * 1e3);
    let err = if recent.is_empty() {
        0.0
    } else {
        errors as f64 * 100.0 / recent.len() as f64
    };
    print!(
        "\r[{:<8}] {:>5.1}s  {:>4} rps  errors {:>5.1}%  p99 {:>6.1} ms  breaker {:<9}",
        phase.name(),
        elapsed.as_secs_f64(),
        recent.len(),
        err,
        p99,
        format!("{:?}", state.unwrap_or(State::Closed))
    );
    let _ = std::io::stdout().flush();
}
