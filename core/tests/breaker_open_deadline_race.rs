//! an admission that races the Open -> HalfOpen transition reads the
//! half-open give-up deadline as if it were the open deadline.
//!
//! `Rejected::OpenUntil` is documented as "Open: the first probe is admitted
//! at `until`, `retry_after` from now." A caller that loaded the open word
//! just before another caller moved the breaker to half-open reads
//! `deadline` after it was rewritten to `now + max_wait_in_half_open`, and
//! is refused with `OpenUntil { retry_after: max_wait_in_half_open }`
//! although the breaker is half-open with free probe slots.
//!
//! The interleaving is made deterministic with a clock whose `now()` runs
//! the other caller's `try_acquire` once (what another thread would do
//! between the two reads).
#![cfg(all(feature = "std", not(loom)))]

use brace::breaker::{CircuitBreaker, Config, OwnedPermit, Rejected, State};
use brace::time::{Clock, ManualClock, Nanos};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

type Hook = Box<dyn FnOnce() + Send>;

/// A manual clock whose next `now()` (not `recent()`) first runs a hook.
#[derive(Clone, Default)]
struct HookClock {
    time: ManualClock,
    hook: Arc<Mutex<Option<Hook>>>,
}

impl Clock for HookClock {
    fn now(&self) -> Nanos {
        let hook = self.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        self.time.now()
    }
    fn recent(&self) -> Nanos {
        self.time.now()
    }
}

#[test]
fn a_caller_racing_the_half_open_transition_is_not_told_to_wait_max_wait() {
    let clock = HookClock::default();
    let config = Config::builder()
        .consecutive_failures(1)
        .open_duration(10 * SEC)
        .permitted_calls_in_half_open(3)
        .max_wait_in_half_open(60 * SEC)
        .build()
        .unwrap();
    let breaker = Arc::new(CircuitBreaker::new(config, clock.clone()));
    breaker.try_acquire().unwrap().record_failure();
    assert_eq!(breaker.state(), State::Open);
    clock.time.advance(10 * SEC); // the open time is over

    // "Another thread" takes the first probe between our read of the state
    // word and our read of the deadline.
    let other: Arc<OnceLock<OwnedPermit<HookClock>>> = Arc::default();
    let (b, slot) = (Arc::clone(&breaker), Arc::clone(&other));
    *clock.hook.lock().unwrap() = Some(Box::new(move || {
        let _ = slot.set(b.try_acquire_owned().expect("the first probe"));
    }));

    let ours = breaker.try_acquire();
    assert!(other.get().is_some(), "the hook ran");
    assert_eq!(breaker.state(), State::HalfOpen);
    match ours {
        Ok(permit) => {
            assert!(permit.is_probe());
            assert_eq!(
                breaker.snapshot().probes_in_flight,
                2,
                "the other's and ours"
            );
        }
        // Refused while racing is tolerable, but not with the half-open
        // give-up deadline presented as the instant a probe is admitted.
        Err(Rejected::OpenUntil { until, retry_after }) => panic!(
            "refused as open until {until:?} (retry_after {retry_after:?}), \
             but the breaker is half-open and admits probes now"
        ),
        Err(other) => assert!(other.retry_after().unwrap() < 60 * SEC, "{other:?}"),
    }
}
