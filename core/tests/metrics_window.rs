//! Window and RED recorder behaviour on a manual clock: rotation, expiry,
//! latency steps, memory bound, concurrent recording.
#![cfg(not(loom))]

use brace::metrics::{Outcome, Red, Window, WindowConfig};
use brace::time::{Clock, ManualClock, Nanos};
use core::time::Duration;
use std::sync::Arc;

fn secs(s: u64) -> Nanos {
    Nanos::from_duration(Duration::from_secs(s))
}

#[test]
fn default_window_fits_in_64_kib() {
    let w = Window::new(WindowConfig::default(), Nanos::ZERO);
    let bytes = w.memory_bytes();
    assert!(bytes <= 64 * 1024, "{bytes} bytes");
    assert!(
        bytes > 50 * 1024,
        "{bytes} bytes: the estimate lost its buckets"
    );
}

#[test]
fn samples_leave_after_the_span_slot_by_slot() {
    let w = Window::new(WindowConfig::default(), Nanos::ZERO);
    // One request per second for 60 s; slots are 12 s long.
    for s in 0..60 {
        w.record_at(secs(s), Duration::from_millis(1), Outcome::Success);
    }
    // At t = 59 s the window holds slots [0, 60): everything.
    assert_eq!(w.snapshot_at(secs(59)).requests(), 60);
    // At t = 60 s slot [0, 12) has left: 48 remain.
    assert_eq!(w.snapshot_at(secs(60)).requests(), 48);
    assert_eq!(w.snapshot_at(secs(107)).requests(), 12);
    assert_eq!(w.snapshot_at(secs(108)).requests(), 0);
    assert_eq!(w.dropped(), 0);
}

#[test]
fn rotation_resets_reused_slots() {
    let w = Window::new(WindowConfig::default(), Nanos::ZERO);
    for s in 0..600 {
        let outcome = if s % 4 == 0 {
            Outcome::Error
        } else {
            Outcome::Success
        };
        w.record_at(secs(s), Duration::from_millis(s % 7 + 1), outcome);
    }
    // Six physical slots were each reused many times; only the last 48 s
    // plus the current second count.
    let snap = w.snapshot_at(secs(599));
    assert_eq!(snap.requests(), 60);
    assert_eq!(snap.errors(), 15);
    assert_eq!(snap.latency().max(), Some(Duration::from_millis(7)));
}

#[test]
fn idle_gaps_longer_than_the_span_start_clean() {
    let w = Window::new(WindowConfig::default(), Nanos::ZERO);
    w.record_at(secs(1), Duration::from_millis(9), Outcome::Error);
    // 10 minutes of silence, then traffic again.
    w.record_at(secs(601), Duration::from_millis(2), Outcome::Success);
    let snap = w.snapshot_at(secs(601));
    assert_eq!((snap.requests(), snap.errors()), (1, 0));
    assert_eq!(snap.latency().max(), Some(Duration::from_millis(2)));
}

#[test]
fn late_samples_inside_the_window_count_and_older_ones_are_dropped() {
    let w = Window::new(WindowConfig::default(), Nanos::ZERO);
    w.record_at(secs(100), Duration::from_millis(1), Outcome::Success);
    w.record_at(secs(90), Duration::from_millis(1), Outcome::Success); // same window
    w.record_at(secs(10), Duration::from_millis(1), Outcome::Success); // long gone
    assert_eq!(w.snapshot_at(secs(100)).requests(), 2);
    assert_eq!(w.dropped(), 1);
}

#[test]
fn latency_step_shows_in_p99_within_one_slot_and_leaves_after_the_span() {
    let clock = ManualClock::new();
    let config = WindowConfig::default();
    let slot = config.slot_len();
    let red = Red::new(config, clock.clone());
    let tick = Duration::from_millis(10); // 100 requests per second
    let mut step_seen_at = None;
    let mut step_gone_at = None;
    while clock.now() < secs(200) {
        clock.advance(tick);
        let now = clock.now();
        // 2 ms before t = 30 s, 50 ms during [30 s, 90 s), 2 ms after.
        let slow = now >= secs(30) && now < secs(90);
        let latency = Duration::from_millis(if slow { 50 } else { 2 });
        red.record(latency, Outcome::Success);
        if now.as_u64() % 1_000_000_000 == 0 {
            let p99 = red.snapshot().p99().unwrap();
            if step_seen_at.is_none() && p99 >= Duration::from_millis(49) {
                step_seen_at = Some(now);
            }
            if now > secs(90) && step_gone_at.is_none() && p99 <= Duration::from_millis(3) {
                step_gone_at = Some(now);
            }
        }
    }
    let seen = step_seen_at.expect("step never showed in p99");
    assert!(
        seen.saturating_sub(secs(30)).as_duration() <= slot,
        "seen at {seen:?}"
    );
    let gone = step_gone_at.expect("step never left the window");
    // The last slow sample is at 90 s; it must be gone one span (60 s) and
    // at most one slot later, and not before the span has passed.
    assert!(gone >= secs(90 + 48), "gone too early at {gone:?}");
    let latest = secs(90 + 60).saturating_add(Nanos::from_duration(slot));
    assert!(gone <= latest, "gone at {gone:?}");
}

/// `threads` threads each record `per_thread` samples, the `i`-th at `i` ms
/// (plus the thread's number in ns, so every thread crosses the same slot
/// boundaries), every tenth an error.
fn record_from_threads(w: &Arc<Window>, threads: u64, per_thread: u64) {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let w = Arc::clone(w);
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let now = Nanos::new(i * 1_000_000 + t);
                    let outcome = if i % 10 == 0 {
                        Outcome::Error
                    } else {
                        Outcome::Success
                    };
                    w.record_at(now, Duration::from_micros(100 + i % 1000), outcome);
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn concurrent_writers_lose_no_count() {
    let w = Arc::new(Window::new(WindowConfig::default(), Nanos::ZERO));
    record_from_threads(&w, 4, 50_000);
    // 50 000 ms = 50 s of timestamps: all inside one 60 s window.
    let snap = w.snapshot_at(Nanos::new(50_000 * 1_000_000));
    assert_eq!(w.dropped(), 0);
    assert_eq!(snap.requests(), 200_000);
    assert_eq!(snap.errors(), 20_000);
}

#[test]
fn oversubscribed_writers_crossing_slots_lose_no_count() {
    // More threads than CPUs, so writers are preempted mid-reset (a slot
    // busy for a whole time slice) while others rotate past it; a window
    // of short slots, so that happens at many boundaries, including the
    // first.
    for round in 0..20u64 {
        let config = WindowConfig::builder()
            .span(Duration::from_secs(60))
            .slots(60)
            .build()
            .unwrap();
        let w = Arc::new(Window::new(config, Nanos::ZERO));
        // 5,000 ms = 5 of the 60 one-second slots.
        record_from_threads(&w, 8, 5_000);
        let snap = w.snapshot_at(Nanos::new(5_000 * 1_000_000));
        assert_eq!(w.dropped(), 0, "round {round}");
        assert_eq!(snap.requests(), 40_000, "round {round}");
    }
}

#[test]
fn clocks_centuries_from_their_origin_still_record() {
    let far = Nanos::new(u64::MAX - 5_000_000_000);
    let w = Window::new(WindowConfig::default(), far);
    w.record_at(far, Duration::from_millis(1), Outcome::Success);
    w.record_at(Nanos::MAX, Duration::from_millis(2), Outcome::Error);
    let snap = w.snapshot_at(Nanos::MAX);
    assert_eq!((snap.requests(), snap.errors()), (2, 1));
    assert_eq!(w.dropped(), 0);
}
