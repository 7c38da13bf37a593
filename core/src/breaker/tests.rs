//! One test per transition, on a manual clock.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::sync::Mutex;

use super::*;
use crate::time::ManualClock;

const SEC: Duration = Duration::from_secs(1);

fn at(secs: u64) -> Nanos {
    Nanos::from_duration(SEC * secs as u32)
}

fn breaker(builder: ConfigBuilder) -> (CircuitBreaker<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    (
        CircuitBreaker::new(builder.build().unwrap(), clock.clone()),
        clock,
    )
}

fn consecutive(n: u32) -> ConfigBuilder {
    Config::builder()
        .consecutive_failures(n)
        .open_duration(10 * SEC)
        .permitted_calls_in_half_open(2)
        .max_wait_in_half_open(5 * SEC)
}

fn fail(b: &CircuitBreaker<ManualClock>) {
    b.try_acquire().expect("admitted").record_failure();
}

fn succeed(b: &CircuitBreaker<ManualClock>) {
    b.try_acquire().expect("admitted").record_success();
}

fn open_breaker() -> (CircuitBreaker<ManualClock>, ManualClock) {
    let (b, clock) = breaker(consecutive(1));
    fail(&b);
    assert_eq!(b.state(), State::Open);
    (b, clock)
}

#[test]
fn closed_to_open_after_consecutive_failures() {
    let (b, _) = breaker(consecutive(3));
    fail(&b);
    fail(&b);
    succeed(&b);
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Closed, "a success resets the run");
    fail(&b);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn closed_to_open_on_failure_rate_once_minimum_calls_seen() {
    let (b, _) = breaker(
        Config::builder()
            .failure_rate(0.5)
            .count_window(100)
            .minimum_calls(4),
    );
    fail(&b);
    fail(&b);
    fail(&b);
    assert_eq!(
        b.state(),
        State::Closed,
        "3 calls are below the minimum of 4"
    );
    succeed(&b);
    assert_eq!(
        b.state(),
        State::Open,
        "the success that reaches the minimum evaluates: 3 failures of 4 calls"
    );
}

#[test]
fn count_window_forgets_failures_older_than_the_window() {
    let (b, _) = breaker(
        Config::builder()
            .failure_rate(0.5)
            .count_window(4)
            .minimum_calls(4),
    );
    fail(&b);
    for _ in 0..5 {
        succeed(&b);
    }
    fail(&b);
    assert_eq!(b.state(), State::Closed, "1 failure in the last 4 calls");
    fail(&b);
    assert_eq!(
        b.state(),
        State::Open,
        "2 of the last 4 (over all 8 calls: 3 of 8)"
    );
}

#[test]
fn closed_to_open_on_failure_rate_over_a_time_window() {
    let (b, clock) = breaker(
        Config::builder()
            .failure_rate(0.6)
            .time_window(10 * SEC, 10)
            .minimum_calls(3),
    );
    fail(&b);
    fail(&b);
    clock.advance(20 * SEC);
    succeed(&b);
    fail(&b);
    assert_eq!(
        b.state(),
        State::Closed,
        "the first two failures aged out: 1 of 2"
    );
    fail(&b);
    assert_eq!(b.state(), State::Open, "2 of 3 in the window");
}

#[test]
fn closed_to_open_on_slow_call_rate() {
    let (b, _) = breaker(
        Config::builder()
            .slow_call_rate(0.5, Duration::from_millis(100))
            .count_window(10)
            .minimum_calls(2),
    );
    b.try_acquire()
        .unwrap()
        .record_success_after(Duration::from_millis(5));
    b.try_acquire().unwrap().record_success();
    assert_eq!(b.state(), State::Closed);
    b.try_acquire()
        .unwrap()
        .record_success_after(Duration::from_millis(100));
    assert_eq!(b.state(), State::Closed, "1 slow of 3");
    b.try_acquire()
        .unwrap()
        .record_failure_after(Duration::from_secs(1));
    assert_eq!(b.state(), State::Open, "2 slow of 4");
    assert_eq!(b.snapshot().slow_calls, 2);
}

#[test]
fn open_rejects_until_the_deadline_then_half_opens() {
    let (b, clock) = open_breaker();
    clock.advance(4 * SEC);
    assert_eq!(
        b.try_acquire().unwrap_err(),
        Rejected::OpenUntil {
            until: at(10),
            retry_after: 6 * SEC
        }
    );
    clock.advance(6 * SEC);
    let probe = b.try_acquire().expect("first probe");
    assert!(probe.is_probe());
    assert_eq!(b.state(), State::HalfOpen);
    drop(probe);
}

#[test]
fn half_open_to_closed_after_permitted_successes() {
    let (b, clock) = open_breaker();
    clock.advance(10 * SEC);
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.record_success();
    assert_eq!(b.state(), State::HalfOpen);
    p2.record_success();
    assert_eq!(b.state(), State::Closed);
    let s = b.snapshot();
    assert_eq!((s.trips, s.calls, s.consecutive_failures), (0, 0, 0));
}

#[test]
fn half_open_to_open_on_a_failed_probe_for_longer() {
    let (b, clock) = breaker(consecutive(1).open_duration_growth(3.0, 60 * SEC));
    fail(&b);
    clock.advance(10 * SEC);
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.record_failure();
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.snapshot().trips, 2);
    assert_eq!(b.snapshot().deadline, Some(at(40)), "10 s grown by 3x");
    p2.record_success();
    assert_eq!(
        b.state(),
        State::Open,
        "the late probe is from the old generation"
    );
}

#[test]
fn half_open_to_open_on_a_slow_probe() {
    let (b, clock) = breaker(consecutive(1).slow_call_rate(1.0, Duration::from_millis(50)));
    fail(&b);
    clock.advance(10 * SEC);
    b.try_acquire()
        .unwrap()
        .record_success_after(Duration::from_millis(60));
    assert_eq!(b.state(), State::Open);
}

#[test]
fn half_open_admits_only_permitted_probes_and_drops_free_slots() {
    let (b, clock) = open_breaker();
    clock.advance(10 * SEC);
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    assert_eq!(
        b.try_acquire().unwrap_err(),
        Rejected::ProbesInFlight {
            retry_after: 5 * SEC
        }
    );
    drop(p1);
    let p3 = b.try_acquire().expect("the dropped probe freed its slot");
    p2.record_ignored();
    let p4 = b.try_acquire().expect("the ignored probe freed its slot");
    assert!(b.try_acquire().is_err());
    let s = b.snapshot();
    assert_eq!((s.probes_in_flight, s.probes_passed), (2, 0));
    p3.record_success();
    p4.record_success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn half_open_with_stuck_probes_opens_again_after_max_wait() {
    let (b, clock) = open_breaker();
    clock.advance(10 * SEC);
    let stuck = [b.try_acquire().unwrap(), b.try_acquire().unwrap()];
    clock.advance(5 * SEC);
    assert_eq!(
        b.try_acquire().unwrap_err(),
        Rejected::OpenUntil {
            until: at(25),
            retry_after: 10 * SEC
        }
    );
    assert_eq!(b.state(), State::Open);
    drop(stuck);
    assert_eq!(b.state(), State::Open, "late drops change nothing");
}

#[test]
fn force_open_rejects_until_reset() {
    let (b, clock) = breaker(consecutive(1));
    let before = b.try_acquire().unwrap();
    b.force_open();
    assert_eq!(b.try_acquire().unwrap_err(), Rejected::ForcedOpen);
    assert_eq!(Rejected::ForcedOpen.retry_after(), None);
    clock.advance(3600 * SEC);
    assert_eq!(
        b.try_acquire().unwrap_err(),
        Rejected::ForcedOpen,
        "no timer closes it"
    );
    before.record_failure();
    b.reset();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.snapshot().failures, 0);
    succeed(&b);
}

#[test]
fn disabled_passes_everything_and_counts_nothing() {
    let (b, _) = open_breaker();
    b.disable();
    assert_eq!(b.state(), State::Disabled);
    for _ in 0..10 {
        fail(&b);
    }
    assert_eq!(b.state(), State::Disabled);
    b.reset();
    assert_eq!(b.state(), State::Closed);
    fail(&b);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn reset_from_open_clears_the_window_and_drops_stale_outcomes() {
    let (b, _) = breaker(
        Config::builder()
            .failure_rate(0.5)
            .count_window(10)
            .minimum_calls(2),
    );
    let stale = b.try_acquire().unwrap();
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    b.reset();
    stale.record_failure();
    let s = b.snapshot();
    assert_eq!((s.state, s.calls, s.failures), (State::Closed, 0, 0));
}

#[test]
fn listener_sees_every_transition_with_its_time() {
    let seen: Arc<Mutex<Vec<(State, State, Nanos)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let (b, clock) = breaker(
        consecutive(1).on_transition(move |t| log.lock().unwrap().push((t.from, t.to, t.at))),
    );
    fail(&b);
    clock.advance(10 * SEC);
    succeed(&b);
    succeed(&b);
    b.force_open();
    b.disable();
    b.reset();
    use State::*;
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (Closed, Open, at(0)),
            (Open, HalfOpen, at(10)),
            (HalfOpen, Closed, at(10)),
            (Closed, ForcedOpen, at(10)),
            (ForcedOpen, Disabled, at(10)),
            (Disabled, Closed, at(10)),
        ]
    );
}

#[test]
fn owned_permits_outlive_the_borrow() {
    let clock = ManualClock::new();
    let b = Arc::new(CircuitBreaker::new(consecutive(1).build().unwrap(), clock));
    let permit = b.try_acquire_owned().unwrap();
    let handle = std::thread::spawn(move || permit.record_failure());
    handle.join().unwrap();
    assert_eq!(b.state(), State::Open);
}

fn poll_once<F: Future>(f: core::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn call_classifies_and_times_the_future() {
    let (b, clock) = breaker(consecutive(5).slow_call_rate(1.0, SEC).minimum_calls(1));
    let slow = async {
        clock.advance(2 * SEC);
        7
    };
    let fut = pin!(b.call(slow, |_| Outcome::Success));
    assert_eq!(poll_once(fut), Poll::Ready(Ok(7)));
    assert_eq!(b.state(), State::Open, "the one call was slow");
}

#[test]
fn cancelled_call_frees_its_probe_slot() {
    let (b, clock) = breaker(consecutive(1).permitted_calls_in_half_open(1));
    fail(&b);
    clock.advance(10 * SEC);
    {
        let mut fut = pin!(b.call(core::future::pending::<()>(), |_| Outcome::Failure));
        assert!(poll_once(fut.as_mut()).is_pending());
        assert!(
            b.try_acquire().is_err(),
            "the pending call holds the only slot"
        );
    }
    assert_eq!(b.state(), State::HalfOpen);
    b.try_acquire()
        .expect("slot freed by the cancelled call")
        .record_success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn jittered_open_durations_stay_within_bounds() {
    let (b, clock) = breaker(consecutive(1).open_duration_jitter(0.5));
    fail(&b);
    let until = b.snapshot().deadline.unwrap();
    assert!(until >= at(5) && until <= at(15), "{until:?}");
    clock.set(until);
    assert!(b.try_acquire().is_ok());
}

#[test]
fn jitter_spreads_open_durations_on_both_sides_of_the_base() {
    let (mut above, mut below, mut exactly) = (0, 0, 0);
    for i in 0..200u64 {
        let clock = ManualClock::new();
        clock.advance(Duration::from_millis(i * 7919));
        let config = consecutive(1).open_duration_jitter(0.5).build().unwrap();
        let b = CircuitBreaker::new(config, clock.clone());
        let start = clock.now();
        fail(&b);
        let open = b.snapshot().deadline.unwrap().saturating_sub(start);
        match open.cmp(&Nanos::from_duration(10 * SEC)) {
            core::cmp::Ordering::Greater => above += 1,
            core::cmp::Ordering::Less => below += 1,
            core::cmp::Ordering::Equal => exactly += 1,
        }
    }
    // Capped after the jitter, every draw above 10 s was exactly 10 s.
    assert!(
        above > 60 && below > 60 && exactly < 5,
        "{above} above 10 s, {below} below, {exactly} exactly"
    );
}

#[test]
fn a_minimum_larger_than_the_count_window_is_refused() {
    let err = Config::builder()
        .failure_rate(0.5)
        .count_window(10)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "minimum_calls");
    assert!(matches!(err, ConfigError::Inconsistent { .. }));
    // Without a rate the minimum plays no part.
    assert!(
        Config::builder()
            .consecutive_failures(3)
            .count_window(10)
            .build()
            .is_ok()
    );
    assert!(
        Config::builder()
            .failure_rate(0.5)
            .count_window(10)
            .minimum_calls(10)
            .build()
            .is_ok()
    );
}

#[test]
fn a_zero_rate_trips_on_the_first_bad_outcome_after_the_minimum() {
    let (b, _) = breaker(
        Config::builder()
            .failure_rate(0.5)
            .slow_call_rate(0.0, SEC)
            .count_window(100)
            .minimum_calls(10),
    );
    for _ in 0..99 {
        b.try_acquire().unwrap().record_success();
    }
    assert_eq!(b.state(), State::Closed, "no slow call yet");
    // A failure evaluates, but 1 in 100 is below 0.5 and no call was slow.
    b.try_acquire().unwrap().record_failure();
    assert_eq!(b.state(), State::Closed, "{:?}", b.snapshot());
    b.try_acquire()
        .unwrap()
        .record_success_after(Duration::from_secs(2));
    assert_eq!(b.state(), State::Open);
}

#[test]
fn the_jitter_bound_is_the_one_the_error_reports() {
    let err = consecutive(1)
        .open_duration_jitter(1.0)
        .build()
        .unwrap_err();
    let ConfigError::OutOfRange { max, .. } = err else {
        panic!("{err:?}")
    };
    assert!(consecutive(1).open_duration_jitter(max).build().is_ok());
    let between = max + (1.0 - max) / 2.0;
    assert!(
        consecutive(1)
            .open_duration_jitter(between)
            .build()
            .is_err()
    );
}

/// A clock whose cached reading trails the real one by a fixed lag.
struct Lagging {
    clock: ManualClock,
    lag: Nanos,
}

impl Clock for Lagging {
    fn now(&self) -> Nanos {
        self.clock.now()
    }
    fn recent(&self) -> Nanos {
        self.clock.now().saturating_sub(self.lag)
    }
}

#[test]
fn open_rejections_read_the_cached_clock_and_the_probe_waits_for_it() {
    let clock = ManualClock::new();
    let lag = Nanos::from_duration(SEC);
    let b = CircuitBreaker::new(
        consecutive(1).build().unwrap(),
        Lagging {
            clock: clock.clone(),
            lag,
        },
    );
    clock.advance(5 * SEC);
    b.try_acquire().unwrap().record_failure();
    clock.advance(4 * SEC);
    let rejected = b.try_acquire().unwrap_err();
    assert_eq!(
        rejected.retry_after(),
        Some(7 * SEC),
        "measured from the cached reading, a second behind"
    );
    clock.advance(6 * SEC);
    assert!(
        b.try_acquire().is_err(),
        "the cached reading is still a second short of the deadline"
    );
    clock.advance(SEC);
    assert!(b.try_acquire().unwrap().is_probe());
}

#[test]
fn a_failure_rate_reached_exactly_trips() {
    // 0.55 * 100.0 is 55.000000000000007 in floating point: 55 failures of
    // 100 calls must still reach a rate of 0.55.
    let (b, _) = breaker(
        Config::builder()
            .failure_rate(0.55)
            .count_window(100)
            .minimum_calls(100),
    );
    for _ in 0..45 {
        succeed(&b);
    }
    for _ in 0..54 {
        fail(&b);
    }
    assert_eq!(b.state(), State::Closed, "99 calls, below the minimum");
    fail(&b);
    assert_eq!(b.state(), State::Open, "55 failures of 100 calls");
}

#[test]
fn a_small_count_window_counts_exactly_its_calls() {
    let (b, _) = breaker(
        Config::builder()
            .failure_rate(0.5)
            .count_window(10)
            .minimum_calls(10),
    );
    for _ in 0..10 {
        succeed(&b);
    }
    // F F F F S S, S S S S S S: the last ten calls hold 2 failures.
    for outcome in [false, false, false, false, true, true] {
        if outcome { succeed(&b) } else { fail(&b) }
    }
    for _ in 0..6 {
        succeed(&b);
    }
    // Four more failures: the last ten hold 4, under half.
    for _ in 0..4 {
        fail(&b);
    }
    assert_eq!(b.state(), State::Closed, "4 failures in the last 10 calls");
    fail(&b);
    assert_eq!(b.state(), State::Open, "5 failures in the last 10 calls");
}
