//! Loom models: threads racing for half-open probe slots never get more
//! than `permitted_calls_in_half_open` of them at once.
#![cfg(loom)]

use brace::breaker::{CircuitBreaker, Config, State};
use brace::time::ManualClock;
use core::time::Duration;
use loom::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const OPEN: Duration = Duration::from_secs(1);

/// A breaker that is open and whose open duration has just passed.
fn due_for_probes(permitted: u32) -> Arc<CircuitBreaker<ManualClock>> {
    let config = Config::builder()
        .consecutive_failures(1)
        .open_duration(OPEN)
        .permitted_calls_in_half_open(permitted)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::new(config, clock.clone());
    breaker.try_acquire().unwrap().record_failure();
    clock.advance(OPEN);
    Arc::new(breaker)
}

#[test]
fn racing_first_probes_admit_exactly_the_permitted_number() {
    loom::model(|| {
        let breaker = due_for_probes(1);
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let b = Arc::clone(&breaker);
                loom::thread::spawn(move || b.try_acquire_owned().ok())
            })
            .collect();
        let mine = breaker.try_acquire_owned().ok();
        let mut held: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        held.push(mine);
        let admitted = held.iter().flatten().count();
        assert_eq!(admitted, 1, "one probe slot, one probe");
        assert!(held.iter().flatten().all(|p| p.is_probe()));
        assert_eq!(breaker.snapshot().probes_in_flight, 1);
        drop(held);
        let s = breaker.snapshot();
        assert_eq!((s.state, s.probes_in_flight), (State::HalfOpen, 0));
    });
}

#[test]
fn probes_held_at_once_never_exceed_permitted_while_slots_recycle() {
    loom::model(|| {
        let breaker = due_for_probes(2);
        let holding = Arc::new(AtomicUsize::new(0));
        let admitted = Arc::new(AtomicUsize::new(0));
        let worker = |drop_it: bool| {
            let b = Arc::clone(&breaker);
            let holding = Arc::clone(&holding);
            let admitted = Arc::clone(&admitted);
            move || {
                for _ in 0..2 {
                    if let Ok(p) = b.try_acquire() {
                        admitted.fetch_add(1, Ordering::SeqCst);
                        let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= 2, "{now} probes held with 2 permitted");
                        holding.fetch_sub(1, Ordering::SeqCst);
                        if drop_it {
                            drop(p);
                        } else {
                            p.record_ignored();
                        }
                    }
                }
            }
        };
        let t = loom::thread::spawn(worker(true));
        worker(false)();
        t.join().unwrap();
        let s = breaker.snapshot();
        assert_eq!(
            (s.state, s.probes_in_flight, s.probes_passed),
            (State::HalfOpen, 0, 0)
        );
        assert!(
            admitted.load(Ordering::SeqCst) >= 2,
            "freed slots are reused"
        );
    });
}
