//! Loom models: outcomes recorded while the breaker trips leave the state,
//! the generation, the listener's log and the window counts consistent.
#![cfg(loom)]

use brace::breaker::{CircuitBreaker, Config, State, Transition};
use brace::time::{ManualClock, Nanos};
use core::time::Duration;
use loom::sync::Mutex;
use std::sync::Arc;

type Log = Arc<Mutex<Vec<Transition>>>;

fn breaker(config: brace::breaker::ConfigBuilder) -> (Arc<CircuitBreaker<ManualClock>>, Log) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let config = config
        .open_duration(Duration::from_secs(5))
        .on_transition(move |t| sink.lock().unwrap().push(t))
        .build()
        .unwrap();
    (
        Arc::new(CircuitBreaker::new(config, ManualClock::new())),
        log,
    )
}

#[test]
fn concurrent_failures_trip_once_and_count_every_outcome_of_the_closed_state() {
    loom::model(|| {
        let (b, log) = breaker(
            Config::builder()
                .failure_rate(0.5)
                .count_window(2)
                .minimum_calls(2),
        );
        // Both permits are taken while closed; the outcomes race the trip.
        let p1 = b.try_acquire_owned().unwrap();
        let p2 = b.try_acquire_owned().unwrap();
        let p3 = b.try_acquire_owned().unwrap();
        let t1 = loom::thread::spawn(move || p1.record_failure());
        let t2 = loom::thread::spawn(move || p2.record_failure());
        p3.record_success();
        t1.join().unwrap();
        t2.join().unwrap();

        let log = log.lock().unwrap();
        let s = b.snapshot();
        assert_eq!(s.state, State::Open, "2 failures of at most 3 calls");
        assert_eq!(log.len(), 1, "exactly one trip: {log:?}");
        assert_eq!((log[0].from, log[0].to), (State::Closed, State::Open));
        assert_eq!(s.generation, 1);
        assert_eq!(
            s.deadline,
            Some(Nanos::from_duration(Duration::from_secs(5)))
        );
        // The window holds each outcome at most once; the trip needed two
        // calls of which at least half failed. An outcome that saw the trip
        // first was dropped, never counted after it.
        assert!((2..=3).contains(&s.calls), "calls {}", s.calls);
        assert!((1..=2).contains(&s.failures), "failures {}", s.failures);
        assert!(s.calls - s.failures <= 1, "only one success was recorded");
    });
}

#[test]
fn a_trip_racing_force_open_and_reset_leaves_log_and_state_agreeing() {
    loom::model(|| {
        let (b, log) = breaker(Config::builder().consecutive_failures(1));
        let stale = b.try_acquire_owned().unwrap();
        let b2 = Arc::clone(&b);
        let t = loom::thread::spawn(move || b2.force_open());
        stale.record_failure();
        t.join().unwrap();
        b.reset();

        // Listeners run after a transition is published, so two of them can
        // run out of order; the generation orders them.
        let mut log = log.lock().unwrap().clone();
        log.sort_by_key(|t| t.generation);
        let s = b.snapshot();
        assert_eq!(s.state, State::Closed);
        assert_eq!(
            s.generation as usize,
            log.len(),
            "one generation per transition"
        );
        for pair in log.windows(2) {
            assert_eq!(pair[0].to, pair[1].from, "transitions chain: {log:?}");
            assert_eq!(pair[0].generation + 1, pair[1].generation);
        }
        assert_eq!(log.last().unwrap().to, State::Closed);
        assert!(log.len() == 2 || log.len() == 3, "{log:?}");
        assert_eq!((s.calls, s.failures, s.consecutive_failures), (0, 0, 0));
    });
}
