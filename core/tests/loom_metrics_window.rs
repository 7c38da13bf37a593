//! Loom models of the metrics window's slot ring: concurrent recording
//! while slots rotate loses no count, and a reader never reports a slot
//! that is half reset.
//!
//! The window is tiny (two or three 1 µs slots, one stripe, a histogram of a few
//! buckets) so every interleaving is explored quickly.
#![cfg(loom)]

use brace::metrics::{HistogramConfig, Outcome, Window, WindowConfig};
use brace::time::Nanos;
use core::time::Duration;
use loom::sync::Arc;
use loom::thread;

const SLOT: u64 = 1_000;

fn tiny_window(slots: u32) -> Window {
    let histogram = HistogramConfig::builder()
        .relative_error(0.1)
        .lowest(Duration::from_nanos(10))
        .highest(Duration::from_nanos(12))
        .build()
        .unwrap();
    let config = WindowConfig::builder()
        .span(Duration::from_nanos(u64::from(slots) * SLOT))
        .slots(slots)
        .stripes(1)
        .histogram(histogram)
        .build()
        .unwrap();
    Window::new(config, Nanos::ZERO)
}

fn at_tick(tick: u64) -> Nanos {
    Nanos::new(tick * SLOT)
}

/// Two writers enter a new slot together (the writer of the previous slot
/// prepared it); a third, later writer rotates past it meanwhile.
#[test]
fn writers_entering_a_new_slot_lose_no_count() {
    loom::model(|| {
        let w = Arc::new(tiny_window(3));
        w.record_at(at_tick(0), Duration::from_nanos(12), Outcome::Success);
        let a = {
            let w = Arc::clone(&w);
            thread::spawn(move || {
                w.record_at(at_tick(1), Duration::from_nanos(10), Outcome::Success)
            })
        };
        let b = {
            let w = Arc::clone(&w);
            thread::spawn(move || w.record_at(at_tick(1), Duration::from_nanos(12), Outcome::Error))
        };
        w.record_at(at_tick(2), Duration::from_nanos(11), Outcome::Success);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(w.dropped(), 0);
        let all = w.snapshot_at(at_tick(2));
        assert_eq!((all.requests(), all.errors()), (4, 1));
        // At tick 3 slot 0 has left; slots 1 and 2 hold every other sample.
        let later = w.snapshot_at(at_tick(3));
        assert_eq!((later.requests(), later.errors()), (3, 1));
        assert_eq!(later.latency().min(), Some(Duration::from_nanos(10)));
    });
}

/// After an idle gap no one prepared the slot: two writers race to reset
/// it. The loser does not wait; its sample is credited to the newest live
/// slot, still inside the window, and nothing is lost.
#[test]
fn writers_racing_a_reset_after_an_idle_gap_lose_no_count() {
    loom::model(|| {
        let w = Arc::new(tiny_window(3));
        w.record_at(at_tick(0), Duration::from_nanos(12), Outcome::Success);
        let a = {
            let w = Arc::clone(&w);
            thread::spawn(move || w.record_at(at_tick(2), Duration::from_nanos(10), Outcome::Error))
        };
        w.record_at(at_tick(2), Duration::from_nanos(12), Outcome::Error);
        a.join().unwrap();
        assert_eq!(w.dropped(), 0);
        let snap = w.snapshot_at(at_tick(2));
        assert_eq!((snap.requests(), snap.errors()), (3, 2));
        assert_eq!(snap.latency().min(), Some(Duration::from_nanos(10)));
        assert_eq!(snap.latency().max(), Some(Duration::from_nanos(12)));
    });
}

/// A reader whose clock still shows tick 1 reads slot 0 while a writer at
/// tick 3 resets that slot for reuse (two live slots, three physical): the
/// reader sees slot 0 whole (one failed 12 ns request) or not at all,
/// never half-zeroed.
#[test]
fn readers_never_see_a_torn_reset() {
    loom::model(|| {
        let w = Arc::new(tiny_window(2));
        w.record_at(at_tick(0), Duration::from_nanos(12), Outcome::Error);
        let writer = {
            let w = Arc::clone(&w);
            thread::spawn(move || {
                w.record_at(at_tick(3), Duration::from_nanos(10), Outcome::Success)
            })
        };
        let snap = w.snapshot_at(at_tick(1));
        writer.join().unwrap();
        match snap.requests() {
            0 => assert_eq!((snap.errors(), snap.latency().max()), (0, None)),
            1 => {
                assert_eq!(snap.errors(), 1);
                assert_eq!(snap.latency().min(), Some(Duration::from_nanos(12)));
                assert_eq!(snap.latency().max(), Some(Duration::from_nanos(12)));
            }
            n => panic!("torn read: {n} requests, {} errors", snap.errors()),
        }
        let after = w.snapshot_at(at_tick(3));
        assert_eq!((after.requests(), after.errors()), (1, 0));
    });
}
