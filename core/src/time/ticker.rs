//! The process-wide origin of [`SystemClock`](super::SystemClock) and the
//! cached reading behind its [`recent`](super::Clock::recent).
//!
//! Protocol: `READING` holds nanoseconds since `origin()`, plus one (so 0
//! means "no ticker yet"). The first `recent()` call that finds 0 starts one
//! thread (guarded by `STARTED`), which stores a fresh reading, then sleeps a
//! millisecond and stores again, forever. Only that thread writes `READING`
//! after start, and each store is a later `Instant`, so readers see a value
//! that never goes backwards and lags the true time by one sleep (plus
//! however long the scheduler keeps the ticker waiting). Relaxed ordering is
//! enough: the value is a number, not a guard for other memory.
//!
//! If the thread cannot be spawned, `READING` stays 0 and every `recent()`
//! reads the real clock: slower, never wrong.
//!
//! Under `cfg(loom)` there is no ticker: `recent()` is `now()`.

use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use super::Nanos;

/// How often the ticker refreshes its reading.
pub(crate) const TICK: Duration = Duration::from_millis(1);

static ORIGIN: OnceLock<Instant> = OnceLock::new();
static READING: AtomicU64 = AtomicU64::new(0);
static STARTED: Once = Once::new();

/// The instant every `SystemClock` measures from.
pub(super) fn origin() -> Instant {
    *ORIGIN.get_or_init(Instant::now)
}

fn precise() -> Nanos {
    Nanos::from_duration(origin().elapsed())
}

/// A reading at most about one [`TICK`] old.
#[inline]
pub(super) fn recent() -> Nanos {
    if cfg!(loom) {
        return precise();
    }
    match READING.load(Ordering::Relaxed) {
        0 => start(),
        stored => Nanos::new(stored - 1),
    }
}

#[cold]
#[inline(never)]
fn start() -> Nanos {
    STARTED.call_once(|| {
        store(precise());
        let spawned = std::thread::Builder::new()
            .name("brace-clock".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(TICK);
                    store(precise());
                }
            });
        if spawned.is_err() {
            READING.store(0, Ordering::Relaxed);
        }
    });
    // The stored reading, not a fresh one: a fresh one would be ahead of
    // what the next call reads.
    match READING.load(Ordering::Relaxed) {
        0 => precise(),
        stored => Nanos::new(stored - 1),
    }
}

fn store(reading: Nanos) {
    READING.store(reading.as_u64().saturating_add(1), Ordering::Relaxed);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn recent_trails_now_by_about_a_tick_and_never_goes_back() {
        let first = recent();
        let mut last = first;
        let deadline = Instant::now() + Duration::from_millis(200);
        while Instant::now() < deadline {
            let r = recent();
            let now = precise();
            assert!(r >= last, "recent went backwards: {r:?} < {last:?}");
            assert!(r <= now, "recent {r:?} is ahead of now {now:?}");
            last = r;
        }
        assert!(last > first, "the ticker moved the reading in 200 ms");
        // The lag is one tick plus scheduling delay: generous on a loaded
        // machine, but far below the seconds a breaker stays open.
        let lag = precise().saturating_sub(recent());
        assert!(
            lag < Nanos::from_duration(Duration::from_millis(500)),
            "lag {lag:?}"
        );
    }
}
