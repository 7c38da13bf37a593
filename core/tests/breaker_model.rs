//! Proptest: random sequences of acquire / report / drop / advance time /
//! manual controls, run against the breaker and against a small reference
//! model written for clarity; every admission decision, state and snapshot
//! must agree.
#![cfg(not(loom))]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use brace::breaker::{
    CircuitBreaker, Config, ConfigBuilder, Outcome, OwnedPermit, Rejected, State,
};
use brace::time::{ManualClock, Nanos};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum WindowSpec {
    Count { calls: u32 },
    Time { span_ms: u64, buckets: u32 },
}

#[derive(Debug, Clone)]
struct Spec {
    consecutive: Option<u32>,
    failure_rate: Option<f64>,
    slow: Option<(f64, u64)>,
    window: WindowSpec,
    minimum_calls: u32,
    open_ms: u64,
    growth: f64,
    max_open_ms: u64,
    permitted: u32,
    max_wait_ms: u64,
}

impl Spec {
    fn builder(&self) -> ConfigBuilder {
        let mut b = Config::builder()
            .minimum_calls(self.minimum_calls)
            .open_duration(ms(self.open_ms))
            .open_duration_growth(self.growth, ms(self.max_open_ms))
            .permitted_calls_in_half_open(self.permitted)
            .max_wait_in_half_open(ms(self.max_wait_ms));
        if let Some(n) = self.consecutive {
            b = b.consecutive_failures(n);
        }
        if let Some(r) = self.failure_rate {
            b = b.failure_rate(r);
        }
        if let Some((r, after)) = self.slow {
            b = b.slow_call_rate(r, ms(after));
        }
        match self.window {
            WindowSpec::Count { calls } => b.count_window(calls),
            WindowSpec::Time { span_ms, buckets } => b.time_window(ms(span_ms), buckets),
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[derive(Debug, Clone)]
enum Op {
    Acquire,
    Report(usize, Outcome, Option<u64>),
    Drop(usize),
    Advance(u64),
    ForceOpen,
    Disable,
    Reset,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    calls: u64,
    failures: u64,
    slow: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Closed,
    Probe,
    Disabled,
}

/// The breaker as a plain single-threaded state machine.
struct Model {
    spec: Spec,
    now: u64,
    state: State,
    generation: u32,
    trips: u32,
    deadline: u64,
    consecutive: u32,
    in_flight: u32,
    passes: u32,
    blocks: VecDeque<(u64, Counts)>,
    current: Counts,
    index: u64,
}

const MS: u64 = 1_000_000;

/// A count window's blocks and block size: the fewest blocks from 8 to 64
/// that divide `calls` (one call each up to 8 calls), else 8 blocks of
/// `ceil(calls / 8)`.
fn count_blocks(calls: u32) -> (u64, u64) {
    let calls = calls.max(1);
    if calls <= 8 {
        return (u64::from(calls), 1);
    }
    match (8..=64).find(|k| calls % k == 0) {
        Some(k) => (u64::from(k), u64::from(calls / k)),
        None => (8, u64::from(calls.div_ceil(8))),
    }
}

impl Model {
    fn new(spec: Spec) -> Self {
        Model {
            spec,
            now: 0,
            state: State::Closed,
            generation: 0,
            trips: 0,
            deadline: 0,
            consecutive: 0,
            in_flight: 0,
            passes: 0,
            blocks: VecDeque::new(),
            current: Counts::default(),
            index: 0,
        }
    }

    fn has_window(&self) -> bool {
        self.spec.failure_rate.is_some() || self.spec.slow.is_some()
    }

    fn ring_len(&self) -> u64 {
        match self.spec.window {
            WindowSpec::Count { calls } => count_blocks(calls).0,
            WindowSpec::Time { buckets, .. } => buckets as u64,
        }
    }

    fn bucket(&self) -> u64 {
        match self.spec.window {
            WindowSpec::Time { span_ms, buckets } => span_ms * MS / buckets as u64,
            WindowSpec::Count { .. } => unreachable!(),
        }
    }

    fn open_for(&self, trips: u32) -> u64 {
        let max = (self.spec.max_open_ms * MS) as f64;
        let mut d = (self.spec.open_ms * MS) as f64;
        for _ in 1..trips {
            if d >= max {
                break;
            }
            d *= self.spec.growth;
        }
        d.min(max).max(1.0) as u64
    }

    fn enter(&mut self, to: State, trips: u32) {
        self.generation = self.generation.wrapping_add(1);
        self.state = to;
        self.trips = trips.min(63);
        self.in_flight = 0;
        self.passes = 0;
        match to {
            State::Open => {
                self.deadline = self.now + self.open_for(self.trips);
            }
            State::HalfOpen => self.deadline = self.now + self.spec.max_wait_ms * MS,
            State::Closed => {
                self.consecutive = 0;
                self.blocks.clear();
                self.current = Counts::default();
                self.index = match self.spec.window {
                    WindowSpec::Count { .. } => 0,
                    WindowSpec::Time { .. } => self.now / self.bucket(),
                };
            }
            _ => {}
        }
    }

    fn acquire(&mut self) -> Result<(u32, Role), Rejected> {
        let open_until = |until: u64, now: u64| Rejected::OpenUntil {
            until: Nanos::new(until),
            retry_after: Duration::from_nanos(until - now),
        };
        match self.state {
            State::Closed => Ok((self.generation, Role::Closed)),
            State::Disabled => Ok((self.generation, Role::Disabled)),
            State::ForcedOpen => Err(Rejected::ForcedOpen),
            State::Open if self.now < self.deadline => Err(open_until(self.deadline, self.now)),
            State::Open => {
                self.enter(State::HalfOpen, self.trips);
                self.in_flight = 1;
                Ok((self.generation, Role::Probe))
            }
            State::HalfOpen if self.in_flight + self.passes < self.spec.permitted => {
                self.in_flight += 1;
                Ok((self.generation, Role::Probe))
            }
            State::HalfOpen if self.now < self.deadline => Err(Rejected::ProbesInFlight {
                retry_after: Duration::from_nanos(self.deadline - self.now),
            }),
            State::HalfOpen => {
                self.enter(State::Open, self.trips + 1);
                Err(open_until(self.deadline, self.now))
            }
        }
    }

    fn report(&mut self, (generation, role): (u32, Role), outcome: Outcome, elapsed: Option<u64>) {
        if generation != self.generation {
            return;
        }
        let slow =
            matches!((self.spec.slow, elapsed), (Some((_, after)), Some(e)) if e >= after * MS);
        match role {
            Role::Disabled => {}
            Role::Closed => self.report_closed(outcome, slow),
            Role::Probe => match outcome {
                Outcome::Ignored => self.in_flight -= 1,
                Outcome::Failure => self.enter(State::Open, self.trips + 1),
                Outcome::Success if slow => self.enter(State::Open, self.trips + 1),
                Outcome::Success if self.passes + 1 >= self.spec.permitted => {
                    self.enter(State::Closed, 0)
                }
                Outcome::Success => {
                    self.in_flight -= 1;
                    self.passes += 1;
                }
            },
        }
    }

    fn report_closed(&mut self, outcome: Outcome, slow: bool) {
        if outcome == Outcome::Ignored {
            return;
        }
        let failed = outcome == Outcome::Failure;
        if self.has_window() {
            let add = |c: &mut Counts| {
                c.calls += 1;
                c.failures += failed as u64;
                c.slow += slow as u64;
            };
            match self.spec.window {
                WindowSpec::Count { calls } => {
                    add(&mut self.current);
                    let block = count_blocks(calls).1;
                    if self.current.calls >= block {
                        self.complete_block(self.index + 1);
                    }
                }
                WindowSpec::Time { .. } => {
                    let index = self.now / self.bucket();
                    if index > self.index {
                        self.complete_block(index);
                    }
                    add(&mut self.current);
                }
            }
        }
        if let Some(limit) = self.spec.consecutive {
            if failed {
                self.consecutive += 1;
                if self.consecutive >= limit {
                    return self.enter(State::Open, self.trips + 1);
                }
            } else {
                self.consecutive = 0;
            }
        }
        // The model evaluates after every outcome: the breaker skips the
        // evaluations that cannot trip (a success once the window holds
        // `minimum_calls`, when no block rolled).
        if self.rate_exceeded() {
            self.enter(State::Open, self.trips + 1);
        }
    }

    fn complete_block(&mut self, next_index: u64) {
        let done = std::mem::take(&mut self.current);
        self.blocks.push_back((self.index, done));
        self.index = next_index;
    }

    fn totals(&self) -> Counts {
        if !self.has_window() {
            return Counts::default();
        }
        let index = match self.spec.window {
            WindowSpec::Count { .. } => self.index,
            WindowSpec::Time { .. } => (self.now / self.bucket()).max(self.index),
        };
        let oldest = index.saturating_sub(self.ring_len());
        let mut t = Counts::default();
        for (tag, c) in &self.blocks {
            if *tag >= oldest && *tag < index {
                t.calls += c.calls;
                t.failures += c.failures;
                t.slow += c.slow;
            }
        }
        if self.index >= oldest {
            t.calls += self.current.calls;
            t.failures += self.current.failures;
            t.slow += self.current.slow;
        }
        t
    }

    fn rate_exceeded(&self) -> bool {
        let t = self.totals();
        if t.calls < self.spec.minimum_calls as u64 {
            return false;
        }
        let over =
            |r: Option<f64>, n: u64| r.is_some_and(|r| n > 0 && n as f64 / t.calls as f64 >= r);
        over(self.spec.failure_rate, t.failures) || over(self.spec.slow.map(|s| s.0), t.slow)
    }

    fn set_by_hand(&mut self, to: State) {
        if self.state != to || to == State::Closed {
            self.enter(to, 0);
        }
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    let window = prop_oneof![
        (1u32..12).prop_map(|calls| WindowSpec::Count { calls }),
        (1u32..5, 1u64..20).prop_map(|(buckets, per)| WindowSpec::Time {
            span_ms: per * buckets as u64,
            buckets
        }),
    ];
    (
        proptest::option::of(1u32..5),
        proptest::option::of(prop_oneof![Just(0.0), 0.1f64..=1.0]),
        proptest::option::of((prop_oneof![Just(0.0), 0.1f64..=1.0], 1u64..40)),
        window,
        1u32..6,
        (
            1u64..40,
            prop_oneof![Just(1.0), Just(2.0), Just(1.5)],
            1u64..4,
        ),
        1u32..4,
        1u64..40,
    )
        .prop_map(
            |(consecutive, failure_rate, slow, window, minimum_calls, open, permitted, wait)| {
                let consecutive = match (consecutive, failure_rate, slow) {
                    (None, None, None) => Some(2),
                    (c, ..) => c,
                };
                // A count window must hold `minimum_calls` (the builder
                // refuses more when a rate is set).
                let minimum_calls = match window {
                    WindowSpec::Count { calls } => minimum_calls.min(calls),
                    WindowSpec::Time { .. } => minimum_calls,
                };
                Spec {
                    consecutive,
                    failure_rate,
                    slow,
                    window,
                    minimum_calls,
                    open_ms: open.0,
                    growth: open.1,
                    max_open_ms: open.0 * open.2,
                    permitted,
                    max_wait_ms: wait,
                }
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    let outcome = prop_oneof![
        3 => Just(Outcome::Success),
        3 => Just(Outcome::Failure),
        1 => Just(Outcome::Ignored),
    ];
    prop_oneof![
        6 => Just(Op::Acquire),
        6 => (any::<usize>(), outcome, proptest::option::of(0u64..60)).prop_map(|(i, o, e)| Op::Report(i, o, e)),
        1 => any::<usize>().prop_map(Op::Drop),
        3 => (0u64..30).prop_map(Op::Advance),
        1 => prop_oneof![Just(Op::ForceOpen), Just(Op::Disable), Just(Op::Reset)],
    ]
}

type Held = (OwnedPermit<ManualClock>, (u32, Role));

fn run(spec: Spec, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let breaker = Arc::new(CircuitBreaker::new(
        spec.builder().build().unwrap(),
        clock.clone(),
    ));
    let mut model = Model::new(spec);
    let mut held: Vec<Held> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Acquire => {
                let real = breaker.try_acquire_owned();
                let expected = model.acquire();
                match (real, expected) {
                    (Ok(p), Ok(ticket)) => {
                        prop_assert_eq!(p.generation(), ticket.0, "step {}", step);
                        prop_assert_eq!(p.is_probe(), ticket.1 == Role::Probe, "step {}", step);
                        held.push((p, ticket));
                    }
                    (Err(r), Err(m)) => prop_assert_eq!(r, m, "step {}", step),
                    (r, m) => prop_assert!(
                        false,
                        "step {}: breaker {:?}, model {:?}",
                        step,
                        r.map(|p| p.generation()),
                        m
                    ),
                }
            }
            Op::Report(i, outcome, elapsed) if !held.is_empty() => {
                let (permit, ticket) = held.remove(i % held.len());
                permit.record(outcome, elapsed.map(ms));
                model.report(ticket, outcome, elapsed.map(|e| e * MS));
            }
            Op::Drop(i) if !held.is_empty() => {
                let (permit, ticket) = held.remove(i % held.len());
                drop(permit);
                model.report(ticket, Outcome::Ignored, None);
            }
            Op::Report(..) | Op::Drop(_) => {}
            Op::Advance(n) => {
                clock.advance(ms(n));
                model.now += n * MS;
            }
            Op::ForceOpen => {
                breaker.force_open();
                model.set_by_hand(State::ForcedOpen);
            }
            Op::Disable => {
                breaker.disable();
                model.set_by_hand(State::Disabled);
            }
            Op::Reset => {
                breaker.reset();
                model.set_by_hand(State::Closed);
            }
        }
        let s = breaker.snapshot();
        let t = model.totals();
        let deadline = matches!(model.state, State::Open | State::HalfOpen)
            .then(|| Nanos::new(model.deadline));
        prop_assert_eq!(
            (
                s.state,
                s.generation,
                s.trips,
                s.probes_in_flight,
                s.probes_passed,
                s.deadline
            ),
            (
                model.state,
                model.generation,
                model.trips,
                model.in_flight,
                model.passes,
                deadline
            ),
            "step {}",
            step
        );
        prop_assert_eq!(
            (s.calls, s.failures, s.slow_calls),
            (t.calls, t.failures, t.slow),
            "step {}",
            step
        );
        prop_assert_eq!(s.consecutive_failures, model.consecutive, "step {}", step);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn breaker_matches_the_reference_model(spec in spec(), ops in proptest::collection::vec(op(), 1..120)) {
        run(spec, ops)?;
    }
}
