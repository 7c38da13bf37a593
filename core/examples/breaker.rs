//! A circuit breaker in front of a flaky dependency, on virtual time.
//!
//! ```text
//! cargo run --release --example breaker
//! ```
//!
//! Two simulated minutes, one call every 100 ms. The dependency is healthy,
//! goes down for 30 s, limps back, then recovers. Failures come from a
//! seeded generator, so every run prints the same story: each transition
//! with its time, each run of rejections, and a summary.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use brace::breaker::{CircuitBreaker, Config, Rejected, State, Transition};
use brace::time::{Clock, ManualClock, Nanos};

/// A deterministic xorshift generator: the "flakiness" of the dependency.
struct Dice(u64);

impl Dice {
    fn roll(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The dependency's health over time: (failure probability, latency).
fn health(t: Duration) -> (f64, Duration) {
    match t.as_secs() {
        0..20 => (0.02, Duration::from_millis(20)),
        20..50 => (0.95, Duration::from_millis(800)),
        50..65 => (0.30, Duration::from_millis(60)),
        _ => (0.01, Duration::from_millis(20)),
    }
}

/// Calls the flaky dependency: `Err` with the phase's probability.
fn flaky_call(dice: &mut Dice, now: Duration) -> (Result<u32, &'static str>, Duration) {
    let (failure_rate, latency) = health(now);
    let result = if dice.roll() < failure_rate {
        Err("503 service unavailable")
    } else {
        Ok(200)
    };
    (result, latency)
}

fn secs(t: Nanos) -> f64 {
    t.as_duration().as_secs_f64()
}

#[derive(Default)]
struct Tally {
    calls: u32,
    succeeded: u32,
    failed: u32,
    rejected: u32,
    failed_in_outage: u32,
    calls_in_outage: u32,
    time_in: [Duration; 5],
}

fn state_index(s: State) -> usize {
    match s {
        State::Closed => 0,
        State::Open => 1,
        State::HalfOpen => 2,
        State::ForcedOpen => 3,
        State::Disabled => 4,
    }
}

/// A run of consecutive rejections, printed when it ends.
struct RejectRun {
    from: Nanos,
    to: Nanos,
    count: u32,
    first: Rejected,
}

fn print_run(run: &RejectRun) {
    let hint = match run.first.retry_after() {
        Some(wait) => format!("first told to retry in {:.1}s", wait.as_secs_f64()),
        None => "forced open".to_owned(),
    };
    println!(
        "  {:>6.1}s .. {:>6.1}s  rejected {:>3} calls without touching the dependency ({hint})",
        secs(run.from),
        secs(run.to),
        run.count
    );
}

fn main() {
    let clock = ManualClock::new();
    // The listener queues transitions; the loop prints them in order with
    // the runs of rejections between them.
    let events: Arc<Mutex<Vec<Transition>>> = Arc::default();
    let sink = Arc::clone(&events);
    let config = Config::builder()
        .failure_rate(0.5)
        .count_window(20)
        .minimum_calls(10)
        .consecutive_failures(8)
        .slow_call_rate(0.8, Duration::from_millis(500))
        .open_duration(Duration::from_secs(5))
        .open_duration_growth(2.0, Duration::from_secs(20))
        .permitted_calls_in_half_open(3)
        .max_wait_in_half_open(Duration::from_secs(2))
        .on_transition(move |t| sink.lock().expect("not poisoned").push(t))
        .build()
        .expect("a valid configuration");
    let breaker = CircuitBreaker::new(config, clock.clone());
    let mut dice = Dice(0x5EED_B4AC_E000_0001);
    let mut tally = Tally::default();
    let mut run: Option<RejectRun> = None;
    let step = Duration::from_millis(100);
    let end = Duration::from_secs(120);

    println!("brace circuit breaker demo: 1 call / 100 ms for 120 s of virtual time");
    println!("dependency: healthy, down 20-50 s, limping 50-65 s, healthy again\n");
    println!("    time  event");
    while clock.now().as_duration() < end {
        let now = clock.now();
        tally.calls += 1;
        tally.time_in[state_index(breaker.state())] += step;
        let in_outage = (20..50).contains(&now.as_duration().as_secs());
        match breaker.try_acquire() {
            Ok(permit) => {
                let (result, latency) = flaky_call(&mut dice, now.as_duration());
                tally.calls_in_outage += u32::from(in_outage);
                match result {
                    Ok(_) => {
                        tally.succeeded += 1;
                        permit.record_success_after(latency);
                    }
                    Err(_) => {
                        tally.failed += 1;
                        tally.failed_in_outage += u32::from(in_outage);
                        permit.record_failure_after(latency);
                    }
                }
            }
            Err(rejected) => {
                tally.rejected += 1;
                let r = run.get_or_insert(RejectRun {
                    from: now,
                    to: now,
                    count: 0,
                    first: rejected,
                });
                r.to = now;
                r.count += 1;
            }
        }
        let happened: Vec<Transition> = events.lock().expect("not poisoned").drain(..).collect();
        if !happened.is_empty() || run.as_ref().is_some_and(|r| r.to != now) {
            if let Some(r) = run.take() {
                print_run(&r);
            }
        }
        for t in happened {
            println!(
                "{:>8.1}s  {:<9} -> {:<9}  (generation {})",
                secs(t.at),
                t.from.to_string(),
                t.to.to_string(),
                t.generation
            );
        }
        clock.advance(step);
    }
    if let Some(r) = run.take() {
        print_run(&r);
    }
    let snap = breaker.snapshot();
    let outage_calls = 30 * 10;
    println!("\nsummary");
    println!("  calls attempted          {:>5}", tally.calls);
    println!(
        "  reached the dependency   {:>5}  ({} ok, {} failed)",
        tally.succeeded + tally.failed,
        tally.succeeded,
        tally.failed
    );
    println!("  rejected by the breaker  {:>5}", tally.rejected);
    println!(
        "  during the 30 s outage   {:>5} of {} calls reached the dependency ({} failed); without a breaker all {} would have waited {:.1}s each",
        tally.calls_in_outage,
        outage_calls,
        tally.failed_in_outage,
        outage_calls,
        health(Duration::from_secs(30)).1.as_secs_f64()
    );
    println!(
        "  time closed / open / half-open  {:.1}s / {:.1}s / {:.1}s",
        tally.time_in[0].as_secs_f64(),
        tally.time_in[1].as_secs_f64(),
        tally.time_in[2].as_secs_f64()
    );
    println!(
        "  transitions {}, final state {}, window now {} calls / {} failed",
        snap.generation, snap.state, snap.calls, snap.failures
    );
}
