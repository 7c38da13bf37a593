//! a transition listener that panics on Open -> HalfOpen leaks the
//! probe slot that the panicking `try_acquire` took for its caller. No
//! permit exists, so nothing can free it: with one permitted probe every
//! call is refused (`ProbesInFlight`) until `max_wait_in_half_open`, and
//! the breaker then re-opens with a grown open duration, having never run
//! a probe.
//!
//! Contract (state.rs): "a dropped or ignored probe frees it"; mod.rs:
//! "Dropping the returned future before `call` finishes drops the permit
//! unreported: its probe slot is freed". Here the slot belongs to no permit.
#![cfg(all(feature = "std", not(loom)))]

use brace::breaker::{CircuitBreaker, Config, State, Transition};
use brace::time::ManualClock;
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

#[test]
fn a_panicking_listener_does_not_wedge_the_half_open_probe_slot() {
    let clock = ManualClock::new();
    let config = Config::builder()
        .consecutive_failures(1)
        .open_duration(10 * SEC)
        .permitted_calls_in_half_open(1)
        .max_wait_in_half_open(60 * SEC)
        .on_transition(|t: Transition| {
            if t.to == State::HalfOpen {
                panic!("a buggy metrics hook");
            }
        })
        .build()
        .unwrap();
    let breaker = CircuitBreaker::new(config, clock.clone());
    breaker.try_acquire().unwrap().record_failure();
    clock.advance(10 * SEC);

    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = breaker.try_acquire();
    }));
    assert!(panicked.is_err(), "the listener panicked");
    assert_eq!(breaker.state(), State::HalfOpen);
    // No permit is outstanding, yet one slot stays taken ...
    assert_eq!(
        breaker.snapshot().probes_in_flight,
        0,
        "a probe slot is held by no permit"
    );
    // ... so the next caller cannot probe.
    clock.advance(SEC);
    assert!(
        breaker.try_acquire().is_ok(),
        "{:?}",
        breaker.try_acquire().err()
    );
}
