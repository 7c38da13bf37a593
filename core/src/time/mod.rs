//! Injected time: every "now" and every sleep in brace goes through these
//! traits, so tests drive time by hand and adapters (tokio) supply real time.
//!
//! * [`Clock`] reads a monotonic instant as [`Nanos`] since an arbitrary,
//!   fixed origin.
//! * [`Sleeper`] makes a future that completes after a duration.
//! * [`SystemClock`] (std) reads [`std::time::Instant`].
//! * [`ManualClock`] only moves when told to; it also implements [`Sleeper`]
//!   by advancing itself, which makes async code run on virtual time.

use core::fmt;
use core::future::{Future, Ready, ready};
use core::time::Duration;

use crate::sync::{Arc, AtomicU64, Ordering};

#[cfg(feature = "std")]
mod system;

/// A monotonic instant or span in nanoseconds.
///
/// `u64` nanoseconds cover about 584 years, so arithmetic saturates rather
/// than wraps.
///
/// ```
/// use brace::time::Nanos;
/// use core::time::Duration;
///
/// let t = Nanos::from_duration(Duration::from_micros(3));
/// assert_eq!(t.as_u64(), 3_000);
/// assert_eq!(t.saturating_sub(Nanos::new(5_000)), Nanos::ZERO);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Nanos(u64);

impl Nanos {
    /// Zero nanoseconds.
    pub const ZERO: Nanos = Nanos(0);
    /// The largest representable instant.
    pub const MAX: Nanos = Nanos(u64::MAX);

    /// Wraps a raw nanosecond count.
    #[inline]
    pub const fn new(nanos: u64) -> Self {
        Nanos(nanos)
    }

    /// Converts a [`Duration`], saturating at [`Nanos::MAX`].
    #[inline]
    pub const fn from_duration(d: Duration) -> Self {
        let n = d.as_nanos();
        if n > u64::MAX as u128 {
            Nanos::MAX
        } else {
            Nanos(n as u64)
        }
    }

    /// The raw nanosecond count.
    #[inline]
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// This span as a [`Duration`].
    #[inline]
    pub const fn as_duration(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self + rhs`, saturating at [`Nanos::MAX`].
    #[inline]
    pub const fn saturating_add(self, rhs: Nanos) -> Nanos {
        Nanos(self.0.saturating_add(rhs.0))
    }

    /// `self - rhs`, saturating at zero.
    #[inline]
    pub const fn saturating_sub(self, rhs: Nanos) -> Nanos {
        Nanos(self.0.saturating_sub(rhs.0))
    }
}

impl From<Duration> for Nanos {
    fn from(d: Duration) -> Self {
        Nanos::from_duration(d)
    }
}

impl From<Nanos> for Duration {
    fn from(n: Nanos) -> Self {
        n.as_duration()
    }
}

impl fmt::Debug for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_duration(), f)
    }
}

/// A source of monotonic time.
///
/// `now` never goes backwards. The origin is arbitrary but fixed for the
/// clock's life, so only differences between two readings mean anything.
///
/// # Thread safety
///
/// Clocks are shared by every thread that uses a primitive, hence
/// `Send + Sync`.
///
/// ```
/// use brace::time::{Clock, ManualClock, Nanos};
///
/// fn elapsed_since(clock: &impl Clock, start: Nanos) -> Nanos {
///     clock.now().saturating_sub(start)
/// }
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(core::time::Duration::from_secs(1));
/// assert_eq!(elapsed_since(&clock, start).as_u64(), 1_000_000_000);
/// ```
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Nanos;

    /// An instant at most a few milliseconds before [`now`](Self::now), on
    /// the same origin, for decisions that need no finer grain: is the
    /// breaker's open time over, has a budget slice or a cache entry
    /// expired. Clocks with a cheaper, coarser reading return it
    /// ([`SystemClock`] on Linux: `CLOCK_MONOTONIC_COARSE`, the time as of
    /// the kernel's last tick); the default is `now()`, so virtual clocks
    /// stay exact.
    ///
    /// Never later than `now()`, and never goes backwards.
    ///
    /// brace starts no threads, but an application may: a clock whose
    /// `recent` is a value its own timer thread refreshes makes an open
    /// breaker's rejection, a budget check and a TTL check one atomic load.
    ///
    /// ```
    /// use brace::time::{Clock, Nanos, SystemClock};
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// #[derive(Clone)]
    /// struct TickedClock {
    ///     system: SystemClock,
    ///     last: Arc<AtomicU64>,
    /// }
    ///
    /// impl TickedClock {
    ///     /// Call from the application's own timer (say, every millisecond).
    ///     fn tick(&self) {
    ///         self.last.fetch_max(self.system.now().as_u64(), Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// impl Clock for TickedClock {
    ///     fn now(&self) -> Nanos {
    ///         self.system.now()
    ///     }
    ///     fn recent(&self) -> Nanos {
    ///         Nanos::new(self.last.load(Ordering::Relaxed))
    ///     }
    /// }
    ///
    /// let clock = TickedClock { system: SystemClock::new(), last: Arc::default() };
    /// clock.tick();
    /// assert!(clock.recent() <= clock.now());
    /// ```
    #[inline]
    fn recent(&self) -> Nanos {
        self.now()
    }

    /// A reading to time a call with: hand it back to
    /// [`elapsed`](Self::elapsed) on the same clock. Only that difference
    /// means anything; a timer is not an instant and may run on another
    /// counter than `now`. The default is `now()`, so virtual clocks time
    /// calls exactly as they tell time. [`SystemClock`] reads the CPU's
    /// time-stamp counter where it is invariant (about 13 ns here against
    /// 33 for `now`), through quanta, which calibrates it once per process
    /// (0.6 to 1.1 ms measured here; quanta allows itself up to 200 ms) the
    /// first time a `SystemClock` is made, and otherwise falls back to the
    /// monotonic clock.
    ///
    /// ```
    /// use brace::time::{Clock, ManualClock};
    /// use core::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let timer = clock.start_timer();
    /// clock.advance(Duration::from_millis(3));
    /// assert_eq!(clock.elapsed(timer).as_duration(), Duration::from_millis(3));
    /// ```
    #[inline]
    fn start_timer(&self) -> Timer {
        Timer::new(self.now().as_u64())
    }

    /// The time since `start` was read from [`start_timer`](Self::start_timer)
    /// on this clock; zero if the counter reads earlier than `start` (a
    /// counter read on another CPU may).
    #[inline]
    fn elapsed(&self, start: Timer) -> Nanos {
        self.now().saturating_sub(Nanos::new(start.raw()))
    }
}

/// A reading of a clock's call timer ([`Clock::start_timer`]): a raw
/// counter value that only [`Clock::elapsed`] on the same clock interprets.
///
/// ```
/// use brace::time::{Clock, SystemClock};
///
/// let clock = SystemClock::new();
/// let timer = clock.start_timer();
/// let took = clock.elapsed(timer);
/// assert!(took.as_duration() < core::time::Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer(u64);

impl Timer {
    /// A timer reading from a clock's raw counter value (for implementers
    /// of [`Clock::start_timer`]).
    pub const fn new(raw: u64) -> Self {
        Timer(raw)
    }

    /// The raw counter value (for implementers of [`Clock::elapsed`]).
    pub const fn raw(self) -> u64 {
        self.0
    }
}

/// A clock behind a reference or a smart pointer reads as the clock itself.
macro_rules! forward_clock {
    ($($ptr:ty),*) => {$(
        impl<C: Clock + ?Sized> Clock for $ptr {
            #[inline]
            fn now(&self) -> Nanos {
                (**self).now()
            }

            #[inline]
            fn recent(&self) -> Nanos {
                (**self).recent()
            }

            #[inline]
            fn start_timer(&self) -> Timer {
                (**self).start_timer()
            }

            #[inline]
            fn elapsed(&self, start: Timer) -> Nanos {
                (**self).elapsed(start)
            }
        }
    )*};
}

forward_clock!(&C, alloc::sync::Arc<C>, alloc::boxed::Box<C>);

/// Makes futures that complete after a given duration.
///
/// Implemented for any `Fn(Duration) -> impl Future<Output = ()>`, so a
/// runtime's sleep function can be passed as is:
///
/// ```
/// use brace::time::Sleeper;
/// use core::time::Duration;
///
/// fn assert_sleeper(_: &impl Sleeper) {}
/// // Any closure returning a future works; a runtime adapter would pass
/// // `tokio::time::sleep` here.
/// assert_sleeper(&|_d: Duration| core::future::ready(()));
/// ```
pub trait Sleeper {
    /// The future returned by [`Sleeper::sleep`].
    type Sleep: Future<Output = ()>;

    /// A future that completes once `duration` has passed.
    fn sleep(&self, duration: Duration) -> Self::Sleep;
}

impl<F, Fut> Sleeper for F
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    type Sleep = Fut;

    #[inline]
    fn sleep(&self, duration: Duration) -> Fut {
        self(duration)
    }
}

/// The operating system's monotonic clock ([`std::time::Instant`]).
///
/// Readings are nanoseconds since one process-wide origin (the first
/// `SystemClock` made), so readings of different `SystemClock` values
/// compare. On Linux, [`now`](Clock::now) reads `CLOCK_MONOTONIC` (as
/// `Instant` does) and [`recent`](Clock::recent) reads
/// `CLOCK_MONOTONIC_COARSE`: the kernel's time as of its last tick, a few
/// milliseconds old at most and several times cheaper to read. Elsewhere
/// `recent` is `now`.
///
/// ```
/// use brace::time::{Clock, SystemClock};
///
/// let clock = SystemClock::new();
/// let a = clock.now();
/// let b = clock.now();
/// assert!(b >= a);
/// ```
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: system::Origin,
}

#[cfg(feature = "std")]
impl SystemClock {
    /// A clock on the process-wide origin. The first call in a process also
    /// calibrates the call timer ([`Clock::start_timer`]), so no timed call
    /// pays for it.
    pub fn new() -> Self {
        system::counter();
        SystemClock {
            origin: system::origin(),
        }
    }
}

#[cfg(feature = "std")]
impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Nanos {
        system::now(self.origin)
    }

    #[inline]
    fn recent(&self) -> Nanos {
        system::recent(self.origin)
    }

    #[inline]
    fn start_timer(&self) -> Timer {
        Timer::new(system::counter().raw())
    }

    #[inline]
    fn elapsed(&self, start: Timer) -> Nanos {
        let counter = system::counter();
        Nanos::new(counter.delta_as_nanos(start.raw(), counter.raw()))
    }
}

/// A clock that moves only when told to. Clones share one time.
///
/// It is also a [`Sleeper`]: `sleep(d)` advances the clock by `d` and
/// completes at once, so async code under test runs on virtual time with no
/// wall-clock waits. Works without `std`.
///
/// # Thread safety
///
/// The time is one atomic; `advance` from several threads adds up.
///
/// ```
/// use brace::time::{Clock, ManualClock, Nanos, Sleeper};
/// use core::time::Duration;
///
/// let clock = ManualClock::new();
/// let shared = clock.clone();
/// shared.advance(Duration::from_millis(10));
/// assert_eq!(clock.now(), Nanos::new(10_000_000));
/// clock.set(Nanos::new(20_000_000));
/// assert_eq!(shared.now(), Nanos::new(20_000_000));
///
/// // Sleeping advances virtual time instantly.
/// let sleep = clock.sleep(Duration::from_nanos(8));
/// drop(sleep);
/// assert_eq!(clock.now(), Nanos::new(20_000_008));
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock reading zero.
    pub fn new() -> Self {
        Self::starting_at(Nanos::ZERO)
    }

    /// A clock reading `start`.
    pub fn starting_at(start: Nanos) -> Self {
        ManualClock {
            now: Arc::new(AtomicU64::new(start.as_u64())),
        }
    }

    /// Moves time forward by `by` (saturating).
    pub fn advance(&self, by: Duration) {
        let by = Nanos::from_duration(by).as_u64();
        let mut cur = self.now.load(Ordering::Acquire);
        loop {
            let next = cur.saturating_add(by);
            match self
                .now
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// Sets the time to `to`.
    ///
    /// # Panics
    ///
    /// Panics if `to` is earlier than the current time: a [`Clock`] is
    /// monotonic.
    pub fn set(&self, to: Nanos) {
        let prev = self.now.fetch_max(to.as_u64(), Ordering::AcqRel);
        assert!(
            prev <= to.as_u64(),
            "ManualClock::set would move time backwards ({:?} -> {:?})",
            Nanos::new(prev),
            to
        );
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now(&self) -> Nanos {
        Nanos::new(self.now.load(Ordering::Acquire))
    }
}

impl Sleeper for ManualClock {
    type Sleep = Ready<()>;

    /// Advances the clock by `duration` and returns a completed future.
    fn sleep(&self, duration: Duration) -> Ready<()> {
        self.advance(duration);
        ready(())
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn nanos_saturates_instead_of_wrapping() {
        assert_eq!(Nanos::MAX.saturating_add(Nanos::new(1)), Nanos::MAX);
        assert_eq!(Nanos::ZERO.saturating_sub(Nanos::new(1)), Nanos::ZERO);
        assert_eq!(Nanos::from_duration(Duration::MAX), Nanos::MAX);
    }

    #[test]
    fn nanos_round_trips_through_duration() {
        let d = Duration::new(3, 141_592_653);
        assert_eq!(Duration::from(Nanos::from(d)), d);
    }

    #[test]
    fn manual_clock_starts_where_told_and_advances() {
        let clock = ManualClock::starting_at(Nanos::new(7));
        assert_eq!(clock.now(), Nanos::new(7));
        clock.advance(Duration::from_nanos(3));
        assert_eq!(clock.now(), Nanos::new(10));
    }

    #[test]
    fn manual_clock_clones_share_time() {
        let a = ManualClock::new();
        let b = a.clone();
        b.advance(Duration::from_secs(2));
        assert_eq!(a.now().as_duration(), Duration::from_secs(2));
    }

    #[test]
    fn manual_clock_set_forward_and_same_time_are_allowed() {
        let clock = ManualClock::new();
        clock.set(Nanos::new(100));
        clock.set(Nanos::new(100));
        assert_eq!(clock.now(), Nanos::new(100));
    }

    #[test]
    #[should_panic(expected = "backwards")]
    fn manual_clock_refuses_to_go_backwards() {
        let clock = ManualClock::starting_at(Nanos::new(100));
        clock.set(Nanos::new(99));
    }

    #[test]
    fn manual_clock_advance_saturates() {
        let clock = ManualClock::starting_at(Nanos::new(u64::MAX - 1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), Nanos::MAX);
    }

    #[test]
    fn manual_sleep_advances_virtual_time() {
        let clock = ManualClock::new();
        let _done = clock.sleep(Duration::from_millis(250));
        assert_eq!(clock.now().as_duration(), Duration::from_millis(250));
    }

    #[test]
    fn closures_are_sleepers() {
        let calls = core::cell::Cell::new(0u32);
        let sleeper = |_d: Duration| {
            calls.set(calls.get() + 1);
            ready(())
        };
        let sleep = Sleeper::sleep(&sleeper, Duration::from_secs(1));
        drop(sleep);
        assert_eq!(calls.get(), 1);
    }

    #[cfg(feature = "std")]
    #[test]
    fn system_clock_is_monotonic() {
        let clock = SystemClock::new();
        let mut last = clock.now();
        for _ in 0..1000 {
            let now = clock.now();
            assert!(now >= last);
            last = now;
        }
    }

    #[test]
    fn clock_is_usable_through_references_and_arcs() {
        let clock = ManualClock::starting_at(Nanos::new(5));
        let arc: alloc::sync::Arc<dyn Clock> = alloc::sync::Arc::new(clock.clone());
        assert_eq!(arc.now(), Nanos::new(5));
        let by_ref: &dyn Clock = &clock;
        assert_eq!(Clock::now(&by_ref), Nanos::new(5));
    }
}
