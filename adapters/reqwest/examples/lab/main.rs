//! The brace lab: a flaky HTTP service on 127.0.0.1, ~20 s of traffic
//! through reqwest + brace (per-host breaker, retry with a budget and a
//! per-attempt timeout, RED metrics), phases healthy → outage → slow →
//! recovery, a report, and an SVG chart.
//!
//! ```text
//! cargo run --release --example lab -- --duration 20 --seed 42
//! ```

mod chart;
mod downstream;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brace::breaker::{Config, State, Transition};
use brace::metrics::{Histogram, HistogramConfig, WindowConfig};
use brace::retry::{Backoff, Jitter, RetryBudget, RetryPolicy};
use brace::time::{Clock, Nanos};
use brace_reqwest::{
    BreakerMiddleware, CircuitOpen, MetricsMiddleware, RetryFailed, RetryMiddleware, RetryOutcome,
};
use brace_tokio::TokioClock;
use downstream::{Downstream, PHASES};

/// One request as the caller saw it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds since the start when it finished.
    pub at: f64,
    pub latency: Duration,
    pub ok: bool,
    pub circuit_open: bool,
    pub attempts: u32,
}

struct Args {
    duration: Duration,
    seed: u64,
}

fn args() -> Args {
    let mut args = Args {
        duration: Duration::from_secs(20),
        seed: 42,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--duration" => {
                let secs: f64 = value.parse().expect("--duration takes seconds, e.g. 20");
                assert!(secs >= 4.0, "--duration must be at least 4 seconds");
                args.duration = Duration::from_secs_f64(secs);
            }
            "--seed" => args.seed = value.parse().expect("--seed takes an integer"),
            other => panic!("unknown flag {other}; use --duration <secs> --seed <n>"),
        }
    }
    args
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args();
    let wall = std::time::Instant::now();
    let clock = TokioClock::new();
    let start = clock.now();
    let since = move |at: Nanos| at.saturating_sub(start).as_duration().as_secs_f64();
    let phase_len = args.duration / PHASES.len() as u32;
    let downstream = Downstream::start(args.seed, phase_len).await?;
    let host = downstream.addr.to_string();
    println!(
        "brace lab: flaky service on http://{host}, {:?} of traffic, seed {}",
        args.duration, args.seed
    );

    // The breaker: trips when half of the last 20 calls failed.
    let transitions: Arc<Mutex<Vec<Transition>>> = Arc::default();
    let log = Arc::clone(&transitions);
    let breakers = BreakerMiddleware::new(
        Config::builder()
            .failure_rate(0.5)
            .count_window(20)
            .minimum_calls(10)
            .open_duration(Duration::from_millis(800))
            .open_duration_growth(2.0, Duration::from_secs(2))
            .permitted_calls_in_half_open(3)
            .on_transition(move |t| log.lock().unwrap().push(t))
            .build()?,
    )?
    // A call without a response head in 250 ms is abandoned and counts as a
    // failure; the retry middleware retries it (budget permitting).
    .call_timeout(Duration::from_millis(250));
    let registry = breakers.registry().clone();
    // Retries: 3 attempts, jittered exponential backoff, 20% budget.
    let policy = RetryPolicy::builder(
        Backoff::exponential(Duration::from_millis(20), 2.0)
            .max_delay(Duration::from_millis(400))
            .jitter(Jitter::Full)
            .build()?,
    )
    .max_attempts(3)
    .max_retry_after(Duration::from_secs(1))
    .build()?;
    let budget = Arc::new(
        RetryBudget::builder()
            .ratio(0.2)
            .min_retries_per_sec(5)
            .build(clock)?,
    );
    let attempts_metrics = MetricsMiddleware::new(WindowConfig::default());
    let per_attempt = attempts_metrics.metrics().clone();
    let client =
        reqwest_middleware::ClientBuilder::new(reqwest::Client::builder().no_proxy().build()?)
            .with(
                RetryMiddleware::builder(policy)
                    .budget(Arc::clone(&budget))
                    .seed(args.seed)
                    .build()?,
            )
            .with(breakers)
            .with(attempts_metrics)
            .build();

    // Traffic: 8 workers, each a request then a 50 ms pause.
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let url = format!("http://{host}/item");
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (client, url, samples, done) = (
            client.clone(),
            url.clone(),
            Arc::clone(&samples),
            Arc::clone(&done),
        );
        workers.push(tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let began = clock.now();
                let result = client.get(&url).send().await;
                let now = clock.now();
                let mut sample = Sample {
                    at: since(now),
                    latency: now.saturating_sub(began).as_duration(),
                    ok: false,
                    circuit_open: false,
                    attempts: 1,
                };
                match &result {
                    Ok(response) => {
                        sample.ok = response.status().is_success();
                        sample.attempts = RetryOutcome::of(response).map_or(1, |o| o.attempts);
                    }
                    Err(e) => {
                        sample.circuit_open = CircuitOpen::find(e).is_some();
                        sample.attempts = RetryFailed::find(e).map_or(1, RetryFailed::attempts);
                    }
                }
                if let Ok(response) = result {
                    let _ = response.bytes().await;
                }
                samples.lock().unwrap().push(sample);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }

    // The live status line, and the breaker state every 100 ms for the chart.
    let mut states: Vec<(f64, State)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut phase_shown = 0;
    let mut first_of_phase = 0;
    loop {
        tick.tick().await;
        let t = since(clock.now());
        states.push((t, registry.state(host.as_str()).unwrap_or(State::Closed)));
        let phase = ((t / phase_len.as_secs_f64()) as usize).min(PHASES.len());
        if phase != phase_shown || t >= args.duration.as_secs_f64() {
            let s = samples.lock().unwrap();
            let line = status(
                &s[first_of_phase..],
                phase_shown,
                &downstream,
                &registry,
                &host,
            );
            println!("\r{line}");
            first_of_phase = s.len();
            phase_shown = phase;
        } else if (states.len() % 5) == 0 {
            let s = samples.lock().unwrap();
            let line = status(
                &s[first_of_phase..],
                phase_shown,
                &downstream,
                &registry,
                &host,
            );
            print!("\r{line}");
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
        }
        if t >= args.duration.as_secs_f64() {
            break;
        }
    }
    done.store(true, Ordering::Relaxed);
    for w in workers {
        w.await?;
    }

    let samples = samples.lock().unwrap().clone();
    let transitions: Vec<(f64, Transition)> = transitions
        .lock()
        .unwrap()
        .iter()
        .map(|t| (since(t.at), *t))
        .collect();
    report(
        &samples,
        &transitions,
        &downstream,
        phase_len,
        &per_attempt,
        &host,
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/brace-lab");
    std::fs::create_dir_all(&path)?;
    let path = path.canonicalize()?.join("lab.svg");
    std::fs::write(
        &path,
        chart::svg(&samples, &states, args.duration, phase_len),
    )?;
    println!("\nchart: {}", path.display());
    println!("lab finished in {:.1} s", wall.elapsed().as_secs_f64());
    Ok(())
}

fn status(
    s: &[Sample],
    phase: usize,
    downstream: &Downstream,
    registry: &brace::breaker::registry::BreakerRegistry<String, TokioClock>,
    host: &str,
) -> String {
    let name = PHASES.get(phase).copied().unwrap_or("end");
    let ok = s.iter().filter(|x| x.ok).count();
    let open = s.iter().filter(|x| x.circuit_open).count();
    let calls = downstream.calls(phase);
    format!(
        "{name:<9} requests {:>5}  ok {:>5.1}%  fast-failed {:>4}  downstream calls {:>5}  breaker {:<9}",
        s.len(),
        100.0 * ok as f64 / s.len().max(1) as f64,
        open,
        calls,
        registry.state(host).unwrap_or(State::Closed).to_string(),
    )
}

fn percentiles(samples: &[&Sample]) -> [Option<Duration>; 3] {
    let h = Histogram::new(HistogramConfig::default());
    for s in samples {
        h.record(s.latency);
    }
    let snap = h.snapshot();
    [snap.quantile(0.5), snap.quantile(0.95), snap.quantile(0.99)]
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1}", d.as_secs_f64() * 1e3))
}

fn report(
    samples: &[Sample],
    transitions: &[(f64, Transition)],
    downstream: &Downstream,
    phase_len: Duration,
    per_attempt: &brace_reqwest::HostMetrics,
    host: &str,
) {
    let total = samples.len();
    let ok = samples.iter().filter(|s| s.ok).count();
    let open = samples.iter().filter(|s| s.circuit_open).count();
    let attempts: u64 = samples.iter().map(|s| u64::from(s.attempts)).sum();
    let calls: u64 = (0..PHASES.len()).map(|p| downstream.calls(p)).sum();
    println!("\n== report ==");
    println!("requests                 {total}");
    println!(
        "succeeded                {ok} ({:.1}%)",
        100.0 * ok as f64 / total.max(1) as f64
    );
    println!("failed fast (open)       {open}");
    println!("attempts (incl. retries) {attempts}");
    println!("calls reaching downstream {calls}");
    println!(
        "retry amplification      {:.2}x downstream calls per request",
        calls as f64 / total.max(1) as f64
    );
    if let Some(s) = per_attempt.snapshot(host) {
        println!(
            "attempts sent (last 60 s window) {}  errors {}  p99 {} ms",
            s.count(),
            s.errors(),
            ms(s.p99())
        );
    }
    println!("\nbreaker timeline ({host}):");
    if transitions.is_empty() {
        println!("  (no transitions)");
    }
    for (at, t) in transitions {
        println!("  {at:>6.2} s  {} -> {}", t.from, t.to);
    }
    println!(
        "\n| phase | window | requests | ok % | downstream calls | amplification | p50 ms | p95 ms | p99 ms |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let len = phase_len.as_secs_f64();
    for (p, name) in PHASES.iter().enumerate() {
        let (lo, hi) = (p as f64 * len, (p + 1) as f64 * len);
        let in_phase: Vec<&Sample> = samples.iter().filter(|s| s.at >= lo && s.at < hi).collect();
        let n = in_phase.len();
        let ok = in_phase.iter().filter(|s| s.ok).count();
        let [p50, p95, p99] = percentiles(&in_phase);
        println!(
            "| {name} | {lo:.0}-{hi:.0} s | {n} | {:.1} | {} | {:.2} | {} | {} | {} |",
            100.0 * ok as f64 / n.max(1) as f64,
            downstream.calls(p),
            downstream.calls(p) as f64 / n.max(1) as f64,
            ms(p50),
            ms(p95),
            ms(p99),
        );
    }
}
