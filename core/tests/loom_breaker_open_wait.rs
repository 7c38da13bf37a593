//! Loom model: a task that registers to be woken when the breaker opens,
//! then reads the breaker's state, either sees the breaker open or is woken
//! by the opening, however the two race (the order `OpenWait` documents and
//! the tower adapter's `poll_ready` relies on).
#![cfg(loom)]

use brace::breaker::{CircuitBreaker, Config, State};
use brace::time::ManualClock;
use loom::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn racing_opening_and_registration(open: fn(&CircuitBreaker<ManualClock>)) {
    loom::model(move || {
        let config = Config::builder().consecutive_failures(1).build().unwrap();
        let breaker = Arc::new(CircuitBreaker::new(config, ManualClock::new()));
        let mut wait = breaker.open_wait();
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        let opener = {
            let breaker = Arc::clone(&breaker);
            loom::thread::spawn(move || open(&breaker))
        };
        wait.register(&Waker::from(Arc::clone(&woken)));
        let saw_open = breaker.state() != State::Closed;
        opener.join().unwrap();
        assert!(
            saw_open || woken.0.load(Ordering::SeqCst) == 1,
            "the waiter neither saw the opening nor was woken by it"
        );
        assert!(woken.0.load(Ordering::SeqCst) <= 1, "one wake per opening");
    });
}

#[test]
fn a_forced_opening_racing_a_registration_is_never_missed() {
    racing_opening_and_registration(|b| b.force_open());
}

#[test]
fn a_trip_racing_a_registration_is_never_missed() {
    racing_opening_and_registration(|b| b.try_acquire().unwrap().record_failure());
}
