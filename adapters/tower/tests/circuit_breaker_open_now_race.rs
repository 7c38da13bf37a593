//! `SharedBreaker::rejects_every_request` (what `poll_ready` asks)
//! reads the state, then a snapshot's deadline; if the breaker moves from
//! open to half-open in between, the half-open give-up deadline is reported
//! as the open deadline and `poll_ready` readies a fail-fast answer
//! (`retry_after` = `max_wait_in_half_open`) although the breaker admits
//! probes.
//!
//! Contract (circuit_breaker/source.rs): "`Some` if every request would be
//! refused right now". The interleaving is made deterministic with a clock
//! whose `now()` (read by the snapshot of a time window) runs the other
//! caller's `try_acquire` once.

use brace::breaker::{CircuitBreaker, Config, OwnedPermit, State};
use brace::time::{Clock, ManualClock, Nanos};
use brace_tower::circuit_breaker::{SelectBreaker, SharedBreaker};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

type Hook = Box<dyn FnOnce() + Send>;

#[derive(Clone, Default)]
struct HookClock {
    time: ManualClock,
    hook: Arc<Mutex<Option<Hook>>>,
}

impl HookClock {
    fn run_hook(&self) {
        let hook = self.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
    }
}

/// The first clock reading of either kind runs the hook: wherever the
/// readiness check reads the clock, the transition lands there.
impl Clock for HookClock {
    fn now(&self) -> Nanos {
        self.run_hook();
        self.time.now()
    }
    fn recent(&self) -> Nanos {
        self.run_hook();
        self.time.now()
    }
}

#[test]
fn poll_ready_does_not_fail_fast_on_a_half_open_breaker_with_free_slots() {
    let clock = HookClock::default();
    let config = Config::builder()
        .failure_rate(0.5)
        .time_window(10 * SEC, 10)
        .minimum_calls(1)
        .open_duration(10 * SEC)
        .permitted_calls_in_half_open(3)
        .max_wait_in_half_open(60 * SEC)
        .build()
        .unwrap();
    let breaker = Arc::new(CircuitBreaker::new(config, clock.clone()));
    breaker.try_acquire().unwrap().record_failure();
    assert_eq!(breaker.state(), State::Open);
    clock.time.advance(10 * SEC);

    let other: Arc<OnceLock<OwnedPermit<HookClock>>> = Arc::default();
    let (b, slot) = (Arc::clone(&breaker), Arc::clone(&other));
    *clock.hook.lock().unwrap() = Some(Box::new(move || {
        let _ = slot.set(b.try_acquire_owned().expect("the first probe"));
    }));

    let source = SharedBreaker::new(Arc::clone(&breaker));
    let verdict = SelectBreaker::<()>::rejects_every_request(&source);
    assert!(other.get().is_some(), "the hook ran");
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(breaker.snapshot().probes_in_flight, 1, "2 of 3 slots free");
    assert_eq!(
        verdict, None,
        "half-open with free slots, yet every request is said to be refused"
    );
}
