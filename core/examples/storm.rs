//! The retry storm, simulated: A calls B calls C; C goes down; how much load
//! does each retry policy pile onto C, and does the system come back?
//!
//! ```text
//! cargo run --release --example storm
//! ```
//!
//! A deterministic discrete-event simulation on virtual time (a
//! `ManualClock` set to each event's time; no wall-clock sleeps), driving
//! brace's real `Backoff`, `RetryBudget` and `CircuitBreaker` objects.
//!
//! * A receives 1,000 requests/s (Poisson, fixed seed) for 60 s; each calls
//!   B, each B call calls C.
//! * C answers every call 20 ms after it arrives. It serves 1,500
//!   requests/s: in each 100 ms window the first 150 calls succeed and the
//!   rest fail (overload). From t = 10 s to t = 40 s it fails every call.
//! * Policies, the same at A (calling B) and at B (calling C):
//!   - naive: up to 3 retries, no wait (the war story);
//!   - backoff + jitter: up to 3 retries, exponential backoff from 20 ms
//!     (x2, cap 1 s) with full jitter;
//!   - brace: the same backoff, plus a `RetryBudget` (ratio 0.2, floor
//!     10/s, ttl 10 s) and a `CircuitBreaker` (opens after 10 consecutive
//!     failures, open 250 ms, 3 probes) per layer. As `Retry::breaker`
//!     does, each attempt first asks the breaker for a permit; a refusal is
//!     not retried and spends no budget; a retry's withdrawal comes after
//!     admission.
//!
//! Printed per policy: calls reaching C per request to A while C is down
//! (amplification), the peak calls to C in any 10 ms bucket, the success
//! rate at A over the whole run, and the time from t = 40 s until A
//! succeeds at ≥ 99% again (the first 100 ms mark from which every 1 s
//! window of A's requests succeeds at ≥ 99%).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

use brace::breaker::{CircuitBreaker, Config, OwnedPermit};
use brace::retry::{Backoff, Delays, Jitter, RandomSource, RetryBudget, SplitMix64};
use brace::time::{ManualClock, Nanos};

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000 * MS;
const RUN: u64 = 60 * SEC;
const DOWN: (u64, u64) = (10 * SEC, 40 * SEC);
const ARRIVALS_PER_SEC: f64 = 1_000.0;
const C_WINDOW: u64 = 100 * MS;
const C_PER_WINDOW: u32 = 150;
const C_LATENCY: u64 = 20 * MS;
const ATTEMPTS: u32 = 4; // the first + 3 retries
const PEAK_BUCKET: u64 = 10 * MS;
const RECOVERY_STEP: u64 = 100 * MS;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Policy {
    Naive,
    Jittered,
    Brace,
}

impl Policy {
    fn name(self) -> &'static str {
        match self {
            Policy::Naive => "naive (3 retries, no backoff)",
            Policy::Jittered => "backoff + jitter (3 retries)",
            Policy::Brace => "brace (jitter + budget + breaker)",
        }
    }
}

/// One layer's retry machinery (A's for calls to B, B's for calls to C).
struct Layer {
    backoff: Option<Backoff>,
    budget: Option<RetryBudget<ManualClock>>,
    breaker: Option<Arc<CircuitBreaker<ManualClock>>>,
}

impl Layer {
    fn new(policy: Policy, clock: &ManualClock) -> Layer {
        let backoff = Backoff::exponential(Duration::from_millis(20), 2.0)
            .max_delay(Duration::from_secs(1))
            .jitter(Jitter::Full)
            .build()
            .expect("valid backoff");
        match policy {
            Policy::Naive => Layer {
                backoff: None,
                budget: None,
                breaker: None,
            },
            Policy::Jittered => Layer {
                backoff: Some(backoff),
                budget: None,
                breaker: None,
            },
            Policy::Brace => Layer {
                backoff: Some(backoff),
                budget: Some(
                    RetryBudget::builder()
                        .ratio(0.2)
                        .min_retries_per_sec(10)
                        .ttl(Duration::from_secs(10))
                        .build(clock.clone())
                        .expect("valid budget"),
                ),
                breaker: Some(Arc::new(CircuitBreaker::new(
                    Config::builder()
                        .consecutive_failures(10)
                        .open_duration(Duration::from_millis(250))
                        .permitted_calls_in_half_open(3)
                        .build()
                        .expect("valid breaker"),
                    clock.clone(),
                ))),
            },
        }
    }

    /// Before an attempt: the breaker's permit, then (for a retry) the
    /// budget. `Err(())` means the attempt may not run.
    fn admit(&self, call: &mut Call) -> Result<(), ()> {
        if let Some(breaker) = &self.breaker {
            call.permit = Some(breaker.try_acquire_owned().map_err(|_| ())?);
        }
        if call.attempts == 0 {
            if let Some(budget) = &self.budget {
                budget.deposit();
            }
        } else if let Some(budget) = &self.budget {
            if !budget.try_withdraw() {
                if let Some(p) = call.permit.take() {
                    p.record_ignored();
                }
                return Err(());
            }
        }
        call.attempts += 1;
        Ok(())
    }

    /// After an attempt: books its outcome; on failure, the wait before a
    /// retry or `None` to give up.
    fn settle(&self, call: &mut Call, ok: bool, seed: u64) -> Option<u64> {
        if let Some(p) = call.permit.take() {
            if ok {
                p.record_success();
            } else {
                p.record_failure();
            }
        }
        if ok || call.attempts >= ATTEMPTS {
            return None;
        }
        Some(match &self.backoff {
            None => 0,
            Some(b) => {
                let delays = call.delays.get_or_insert_with(|| b.delays_seeded(seed));
                Nanos::from_duration(delays.next().unwrap_or_default()).as_u64()
            }
        })
    }
}

/// One logical call at a layer: an A request, or one B call to C.
#[derive(Default)]
struct Call {
    attempts: u32,
    delays: Option<Delays<SplitMix64>>,
    permit: Option<OwnedPermit<ManualClock>>,
    /// For a B call: the A request it serves.
    parent: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrive,
    TryA(usize),
    TryB(usize),
    ReplyFromC(usize, bool),
}

struct Outcome {
    amplification: f64,
    peak: u32,
    success: f64,
    recovery: Option<u64>,
}

fn simulate(policy: Policy) -> Outcome {
    let clock = ManualClock::new();
    let a = Layer::new(policy, &clock);
    let b = Layer::new(policy, &clock);
    let mut rng = SplitMix64::new(0x5EED);
    let mut queue: BinaryHeap<Reverse<(u64, u64, Event)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |q: &mut BinaryHeap<_>, at: u64, e: Event| {
        seq += 1;
        q.push(Reverse((at, seq, e)));
    };

    let mut requests: Vec<Call> = Vec::new();
    let mut arrived_at: Vec<u64> = Vec::new();
    let mut succeeded: Vec<Option<bool>> = Vec::new();
    let mut b_calls: Vec<Call> = Vec::new();
    let mut c_window_counts = vec![0u32; (RUN / C_WINDOW) as usize * 2];
    let mut c_buckets = vec![0u32; (RUN / PEAK_BUCKET) as usize * 2];
    let mut c_calls_while_down = 0u64;

    push(&mut queue, 0, Event::Arrive);
    while let Some(Reverse((now, _, event))) = queue.pop() {
        clock.set(Nanos::new(now));
        match event {
            Event::Arrive => {
                requests.push(Call::default());
                arrived_at.push(now);
                succeeded.push(None);
                push(&mut queue, now, Event::TryA(requests.len() - 1));
                // Poisson arrivals: exponential gaps.
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                let gap = (-(1.0 - u).ln() / ARRIVALS_PER_SEC * SEC as f64) as u64;
                if now + gap < RUN {
                    push(&mut queue, now + gap, Event::Arrive);
                }
            }
            Event::TryA(r) => {
                if a.admit(&mut requests[r]).is_err() {
                    succeeded[r] = Some(false);
                    continue;
                }
                b_calls.push(Call {
                    parent: r,
                    ..Call::default()
                });
                push(&mut queue, now, Event::TryB(b_calls.len() - 1));
            }
            Event::TryB(call) => {
                if b.admit(&mut b_calls[call]).is_err() {
                    // B fails at once; A sees a failure.
                    let r = b_calls[call].parent;
                    reply_to_a(
                        &a,
                        &mut requests[r],
                        &mut succeeded[r],
                        r,
                        false,
                        now,
                        &mut queue,
                        &mut push,
                    );
                    continue;
                }
                let down = (DOWN.0..DOWN.1).contains(&now);
                if down {
                    c_calls_while_down += 1;
                }
                c_buckets[(now / PEAK_BUCKET) as usize] += 1;
                let window = &mut c_window_counts[(now / C_WINDOW) as usize];
                let ok = !down && *window < C_PER_WINDOW;
                *window += 1;
                push(&mut queue, now + C_LATENCY, Event::ReplyFromC(call, ok));
            }
            Event::ReplyFromC(call, ok) => {
                let seed = call as u64 ^ 0xB;
                match b.settle(&mut b_calls[call], ok, seed) {
                    Some(wait) => push(&mut queue, now + wait, Event::TryB(call)),
                    None => {
                        let r = b_calls[call].parent;
                        reply_to_a(
                            &a,
                            &mut requests[r],
                            &mut succeeded[r],
                            r,
                            ok,
                            now,
                            &mut queue,
                            &mut push,
                        );
                    }
                }
            }
        }
    }

    let down_arrivals = arrived_at
        .iter()
        .filter(|t| (DOWN.0..DOWN.1).contains(*t))
        .count();
    let ok_total = succeeded.iter().filter(|s| **s == Some(true)).count();
    Outcome {
        amplification: c_calls_while_down as f64 / down_arrivals as f64,
        peak: c_buckets.iter().copied().max().unwrap_or(0),
        success: ok_total as f64 / succeeded.len() as f64,
        recovery: recovery(&arrived_at, &succeeded),
    }
}

/// A's request `r` got B's answer: done, or retried after a wait.
#[allow(clippy::too_many_arguments)]
fn reply_to_a(
    a: &Layer,
    request: &mut Call,
    result: &mut Option<bool>,
    r: usize,
    ok: bool,
    now: u64,
    queue: &mut BinaryHeap<Reverse<(u64, u64, Event)>>,
    push: &mut impl FnMut(&mut BinaryHeap<Reverse<(u64, u64, Event)>>, u64, Event),
) {
    match a.settle(request, ok, r as u64 ^ 0xA) {
        Some(wait) => push(queue, now + wait, Event::TryA(r)),
        None => *result = Some(ok),
    }
}

/// Time from the end of the outage until A succeeds at ≥ 99% in every 1 s
/// window (stepped by 100 ms) from then to the end of the run.
fn recovery(arrived_at: &[u64], succeeded: &[Option<bool>]) -> Option<u64> {
    let steps = (RUN / RECOVERY_STEP) as usize;
    let mut ok = vec![0u32; steps];
    let mut all = vec![0u32; steps];
    for (t, s) in arrived_at.iter().zip(succeeded) {
        let i = (*t / RECOVERY_STEP) as usize;
        all[i] += 1;
        ok[i] += u32::from(*s == Some(true));
    }
    let window = (SEC / RECOVERY_STEP) as usize;
    let good = |start: usize| {
        let (o, n) = (start..start + window).fold((0, 0), |(o, n), i| (o + ok[i], n + all[i]));
        n == 0 || o as f64 >= 0.99 * n as f64
    };
    let first = (DOWN.1 / RECOVERY_STEP) as usize;
    let last_start = steps - window;
    let mut recovered_from = None;
    for start in (first..=last_start).rev() {
        if good(start) {
            recovered_from = Some(start);
        } else {
            break;
        }
    }
    recovered_from.map(|s| s as u64 * RECOVERY_STEP - DOWN.1)
}

fn main() {
    println!("A -> B -> C; A gets 1000 req/s for 60 s; C serves 1500 req/s, down 10 s..40 s\n");
    println!(
        "| policy at A and B | amplification at C while down | peak C calls / 10 ms | success at A | recovery after t = 40 s |"
    );
    println!("|---|---:|---:|---:|---:|");
    for policy in [Policy::Naive, Policy::Jittered, Policy::Brace] {
        let o = simulate(policy);
        let recovery = match o.recovery {
            Some(ns) => format!("{:.1} s", ns as f64 / SEC as f64),
            None => "not within the run".to_owned(),
        };
        println!(
            "| {} | {:.2}x | {} | {:.1}% | {} |",
            policy.name(),
            o.amplification,
            o.peak,
            o.success * 100.0,
            recovery
        );
    }
}
