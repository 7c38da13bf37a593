//! Where [`SystemClock`](super::SystemClock) reads the operating system's
//! monotonic clock.
//!
//! On Linux (and Android) both readings come from `clock_gettime` through
//! rustix's safe wrapper, as nanoseconds since one process-wide origin:
//! `now` from `CLOCK_MONOTONIC` (what `std::time::Instant` reads), `recent`
//! from `CLOCK_MONOTONIC_COARSE`, the kernel's time as of its last tick
//! (a few milliseconds old: 1 to 4 ms as a rule, up to 7 ms seen on a
//! busy 2-vCPU VM), which skips reading and scaling the hardware counter.
//! The kernel derives both from one base, so a coarse reading is never
//! later than a precise one taken after it. Elsewhere both are
//! `Instant`-based and `recent` is `now`.

use super::Nanos;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use super::Nanos;
    use rustix::time::{ClockId, clock_gettime};
    use std::sync::OnceLock;

    /// `CLOCK_MONOTONIC` nanoseconds at the process-wide origin.
    pub(in crate::time) type Origin = u64;

    static ORIGIN: OnceLock<u64> = OnceLock::new();

    fn raw(id: ClockId) -> u64 {
        let t = clock_gettime(id);
        (t.tv_sec as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(t.tv_nsec as u64)
    }

    pub(in crate::time) fn origin() -> u64 {
        *ORIGIN.get_or_init(|| raw(ClockId::Monotonic))
    }

    #[inline]
    pub(in crate::time) fn now(origin: u64) -> Nanos {
        Nanos::new(raw(ClockId::Monotonic).saturating_sub(origin))
    }

    #[inline]
    pub(in crate::time) fn recent(origin: u64) -> Nanos {
        Nanos::new(raw(ClockId::MonotonicCoarse).saturating_sub(origin))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    use super::Nanos;
    use std::sync::OnceLock;
    use std::time::Instant;

    pub(in crate::time) type Origin = Instant;

    static ORIGIN: OnceLock<Instant> = OnceLock::new();

    pub(in crate::time) fn origin() -> Instant {
        *ORIGIN.get_or_init(Instant::now)
    }

    #[inline]
    pub(in crate::time) fn now(origin: Instant) -> Nanos {
        Nanos::from_duration(origin.elapsed())
    }

    #[inline]
    pub(in crate::time) fn recent(origin: Instant) -> Nanos {
        now(origin)
    }
}

pub(super) use imp::{Origin, now, origin, recent};

/// The call timer's counter: the time-stamp counter where quanta finds it
/// invariant, else the monotonic clock; calibrated on first use (made by
/// `SystemClock::new`).
#[inline]
pub(super) fn counter() -> &'static quanta::Clock {
    static COUNTER: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    COUNTER.get_or_init(quanta::Clock::new)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn recent_trails_now_by_a_few_ms_and_never_goes_back() {
        let o = origin();
        let mut last = recent(o);
        let deadline = std::time::Instant::now() + Duration::from_millis(100);
        while std::time::Instant::now() < deadline {
            let r = recent(o);
            let n = now(o);
            assert!(r >= last, "recent went backwards: {r:?} < {last:?}");
            assert!(r <= n, "recent {r:?} is ahead of now {n:?}");
            last = r;
        }
        let lag = now(o).saturating_sub(recent(o));
        // A kernel tick is at most 10 ms (HZ=100); a loaded machine may add
        // a little.
        assert!(
            lag < Nanos::from_duration(Duration::from_millis(50)),
            "lag {lag:?}"
        );
    }

    #[test]
    fn the_call_timer_agrees_with_the_monotonic_clock() {
        use crate::time::{Clock, SystemClock};
        let clock = SystemClock::new();
        let before = clock.now();
        let timer = clock.start_timer();
        let start = clock.now();
        std::thread::sleep(Duration::from_millis(20));
        let end = clock.now();
        let by_timer = clock.elapsed(timer).as_u64() as f64;
        let after = clock.now();
        // The timed span lies within [before, after] and contains
        // [start, end], whatever the scheduler did between the readings;
        // the counter's calibration adds parts per thousand at worst.
        let inner = end.saturating_sub(start).as_u64() as f64;
        let outer = after.saturating_sub(before).as_u64() as f64;
        assert!(
            by_timer >= inner * 0.99,
            "timer {by_timer} ns, inner span {inner} ns"
        );
        assert!(
            by_timer <= outer * 1.01,
            "timer {by_timer} ns, outer span {outer} ns"
        );
    }
}
