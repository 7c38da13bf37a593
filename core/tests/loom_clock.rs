//! Loom model: concurrent `ManualClock::advance` calls never lose time.
#![cfg(loom)]

use brace::time::{Clock, ManualClock, Nanos};
use core::time::Duration;

#[test]
fn concurrent_advances_add_up() {
    loom::model(|| {
        let clock = ManualClock::new();
        let other = clock.clone();
        let t = loom::thread::spawn(move || other.advance(Duration::from_nanos(3)));
        clock.advance(Duration::from_nanos(5));
        t.join().unwrap();
        assert_eq!(clock.now(), Nanos::new(8));
    });
}
