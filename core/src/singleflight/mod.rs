//! Single-flight: concurrent callers asking for the same key share one
//! execution of the work, so a cache stampede (a hot key expires and every
//! request hits the database at once) becomes one load.
//!
//! [`Group::work`] takes a key and a closure that makes the work's future.
//! The first caller for a key (the *leader*) runs its closure; callers that
//! arrive while that work is in flight (*followers*) wait for its outcome
//! instead of running their own. When the work ends, every caller gets a
//! clone of the value, or the same error shared as an [`Arc<E>`](alloc::sync::Arc)
//! inside [`SingleFlightError::Failed`], and the key is free again: the next
//! call starts a fresh execution. Nothing is kept after that: caching the
//! value is the job of a cache built on top.
//!
//! The group is runtime-agnostic: it never spawns. The leader's own future
//! drives the work, followers are woken through their stored wakers on every
//! path (value, error, panic, leader dropped).
//!
//! ```
//! use brace::singleflight::Group;
//! use std::convert::Infallible;
//!
//! # futures_lite_block_on(async {
//! let group: Group<&str, u32, Infallible> = Group::new();
//! let v = group.work("answer", || async { Ok(42) }).await;
//! assert_eq!(v, Ok(42));
//! assert_eq!(group.stats().executions, 1);
//! assert_eq!(group.in_flight(), 0);
//! # });
//! # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let mut f = std::pin::pin!(f);
//! #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! ```

mod deadline;
mod error;
mod flight;
mod stats;
mod work;

#[cfg(all(test, not(loom)))]
mod tests;

use core::fmt;
use core::future::Future;
use core::hash::{BuildHasher, Hash};
use core::time::Duration;

use std::collections::HashMap;

use crate::sync::Mutex;
use crate::time::Sleeper;

pub use deadline::WorkUntil;
pub use error::SingleFlightError;
pub use stats::Stats;
pub use work::Work;

use flight::FlightMap;
use stats::Counters;

/// The default hasher: randomly seeded per group, so keys chosen by an
/// attacker cannot be made to collide on purpose.
pub type DefaultHasher = ahash::RandomState;

/// Coalesces concurrent executions of work per key.
///
/// `K` identifies the work, `V` is its value (cloned to every caller) and
/// `E` its error (shared, never cloned). `S` hashes keys in the in-flight
/// map.
///
/// # Cancellation
///
/// Dropping a caller's future never cancels the work for the others:
///
/// * a dropped **follower** just stops waiting;
/// * a dropped **leader** drops the work it was running; the oldest waiting
///   follower is woken, runs *its own* closure and becomes the leader. With
///   no follower left, the key is freed. Nobody waits on work that nobody
///   drives.
///
/// Work for a key must not wait on the same group's work for that key:
/// the inner call joins the flight it is part of and waits on itself for
/// good (no lock is held, so nothing else is blocked; dropping the outer
/// call cleans both up). Work for another key is fine.
///
/// A leader that stays alive but is no longer polled (its task stalled, or
/// its future parked inside a `select!` that moved on) is still driving the
/// work as far as the group can tell, so its followers wait until it is
/// polled again or dropped. Followers that must not wait on that use
/// [`work_with_deadline`](Group::work_with_deadline) /
/// [`work_with_timeout`](Group::work_with_timeout).
///
/// # Panics
///
/// A panic while making or polling the work is caught (the work is polled
/// under [`catch_unwind`](std::panic::catch_unwind) with `AssertUnwindSafe`:
/// the half-run work is discarded, nothing of it is reused). Every caller of
/// that execution, the leader included, gets
/// [`SingleFlightError::LeaderPanicked`]; the key is freed, so the next call
/// runs the work afresh. The panic message still goes to the panic hook.
///
/// A panic in `V::clone` is not caught: it unwinds out of the poll of the
/// one caller whose copy was being made (the leader included). By then the
/// work has ended and its outcome is published: every other caller still
/// gets its own clone, the work is not run again (not handed on) and the
/// key is free. The caller that panicked gets no result; its future is
/// finished (polling it again panics).
///
/// A panic in a follower's [`Waker::wake`](core::task::Waker::wake) is not
/// caught either: it unwinds out of the poll that finished the work, once
/// every other follower has been woken (a second panicking waker among them
/// aborts the process, as any panic during an unwind does). The outcome is
/// published by then, so every follower still gets it; the caller whose
/// poll panicked gets no result and its future is finished.
///
/// The key's `Hash`, `Eq`, `Clone` and `Drop` and the hasher must not
/// panic: they run while a flight is joined, left or taken out of the map,
/// and a panic there is a logic error (as in `std`'s maps). It is
/// memory-safe, but followers of that flight may never be woken and its
/// map entry may stay until [`forget_all`](Group::forget_all).
///
/// Polling a [`Work`] again after it returned `Ready` panics.
///
/// # Thread safety
///
/// `Group` is `Send + Sync` when `K`, `V` and `E` are `Send + Sync`; share it by
/// reference or in an `Arc`. The in-flight map sits behind one mutex, and
/// each flight's state behind its own; they are held only to join, leave or
/// finish a flight. The work (`make` and its future), `V::clone` and every
/// [`Waker::wake`](core::task::Waker::wake) run with no lock held. What
/// does run under them is the key's `Hash`, `Eq`, `Clone` and `Drop` and
/// the hasher `S` (to find, insert and remove the key), and the `clone` and
/// drop of a follower's waker (to store it, replace it when the follower
/// is polled with another waker, drop it when the follower leaves, or
/// appoint it heir).
///
/// ```
/// use brace::singleflight::{Group, SingleFlightError};
///
/// # brace_block_on(async {
/// let group: Group<u64, String, std::io::Error> = Group::new();
/// let err = group
///     .work(7, || async { Err(std::io::Error::other("db down")) })
///     .await
///     .unwrap_err();
/// assert!(matches!(err, SingleFlightError::Failed(_)));
/// assert_eq!(err.to_string(), "the shared work failed: db down");
/// # });
/// # fn brace_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
pub struct Group<K, V, E, S = DefaultHasher> {
    in_flight: Mutex<FlightMap<K, V, E, S>>,
    counters: Counters,
}

impl<K, V, E> Group<K, V, E, DefaultHasher>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    /// An empty group with a randomly seeded hasher.
    ///
    /// ```
    /// let group: brace::singleflight::Group<String, u8, ()> =
    ///     brace::singleflight::Group::new();
    /// assert_eq!(group.in_flight(), 0);
    /// ```
    pub fn new() -> Self {
        Self::with_hasher(DefaultHasher::new())
    }
}

impl<K, V, E> Default for Group<K, V, E, DefaultHasher>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, E, S> Group<K, V, E, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher,
{
    /// An empty group hashing keys with `hasher`.
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// let group: brace::singleflight::Group<u32, u32, (), RandomState> =
    ///     brace::singleflight::Group::with_hasher(RandomState::new());
    /// assert_eq!(group.stats().executions, 0);
    /// ```
    pub fn with_hasher(hasher: S) -> Self {
        Group {
            in_flight: Mutex::new(HashMap::with_hasher(hasher)),
            counters: Counters::default(),
        }
    }

    /// Runs `make()`'s future for `key`, unless that key's work is already in
    /// flight, in which case waits for its outcome.
    ///
    /// The returned future is lazy: it joins the key's flight when first
    /// polled. `make` is called at most once, only if this caller leads (or
    /// takes over after the leader was dropped); a follower keeps it until it
    /// has a result.
    ///
    /// # Errors
    ///
    /// [`SingleFlightError::Failed`] with the work's error (one `Arc` shared
    /// by every caller of the execution), or
    /// [`SingleFlightError::LeaderPanicked`] if the work panicked.
    ///
    /// # Cancellation
    ///
    /// See [`Group`]: dropping this future never leaves others hanging.
    ///
    /// ```
    /// use brace::singleflight::Group;
    /// use std::convert::Infallible;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let group: Group<&str, u32, Infallible> = Group::new();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// // The leader's work is not ready yet...
    /// let mut ready = false;
    /// let mut leader = std::pin::pin!(group.work("k", || {
    ///     std::future::poll_fn(move |_| {
    ///         if std::mem::replace(&mut ready, true) { Poll::Ready(Ok(1)) } else { Poll::Pending }
    ///     })
    /// }));
    /// assert!(leader.as_mut().poll(&mut cx).is_pending());
    /// // ...so a second caller waits for it instead of running its own.
    /// let mut follower = std::pin::pin!(group.work("k", || async { Ok(2) }));
    /// assert!(follower.as_mut().poll(&mut cx).is_pending());
    /// assert_eq!(leader.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
    /// assert_eq!(follower.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
    /// assert_eq!(group.stats().executions, 1);
    /// assert_eq!(group.stats().coalesced, 1);
    /// ```
    pub fn work<F, Fut>(&self, key: K, make: F) -> Work<'_, K, V, E, S, F, Fut>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        Work::new(self, key, make)
    }

    /// Like [`work`](Group::work), but this caller gives up with
    /// [`SingleFlightError::DeadlineExceeded`] once `deadline` completes.
    ///
    /// Giving up drops only this caller's part: a follower stops waiting and
    /// the work goes on for the others. If this caller is leading at that
    /// moment, the work it drives is dropped and the oldest follower takes
    /// over with its own closure (see [`Group`]'s `# Cancellation`).
    ///
    /// The work is polled before the deadline, and once more when the
    /// deadline is ready, so an outcome that is ready (or published by the
    /// leader while the deadline was polled) wins over a deadline that is
    /// ready at the same poll.
    ///
    /// ```
    /// use brace::singleflight::{Group, SingleFlightError};
    /// use std::convert::Infallible;
    ///
    /// # brace_block_on(async {
    /// let group: Group<u8, u8, Infallible> = Group::new();
    /// let gave_up = group
    ///     .work_with_deadline(1, std::future::ready(()), || std::future::pending())
    ///     .await;
    /// assert_eq!(gave_up, Err(SingleFlightError::DeadlineExceeded));
    /// assert_eq!(group.in_flight(), 0);
    /// # });
    /// # fn brace_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// ```
    pub fn work_with_deadline<D, F, Fut>(
        &self,
        key: K,
        deadline: D,
        make: F,
    ) -> WorkUntil<'_, K, V, E, S, F, Fut, D>
    where
        D: Future<Output = ()>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        WorkUntil::new(self.work(key, make), deadline)
    }

    /// Like [`work_with_deadline`](Group::work_with_deadline) with a deadline
    /// `timeout` from now, measured by `sleeper` (the injected time source,
    /// e.g. the tokio adapter's sleeper or a [`ManualClock`](crate::time::ManualClock)).
    ///
    /// ```
    /// use brace::singleflight::{Group, SingleFlightError};
    /// use brace::time::ManualClock;
    /// use std::time::Duration;
    ///
    /// # brace_block_on(async {
    /// let clock = ManualClock::new();
    /// let group: Group<u8, u8, ()> = Group::new();
    /// let r = group
    ///     .work_with_timeout(1, &clock, Duration::from_millis(50), || std::future::pending())
    ///     .await;
    /// assert_eq!(r, Err(SingleFlightError::DeadlineExceeded));
    /// # });
    /// # fn brace_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// ```
    pub fn work_with_timeout<Sl, F, Fut>(
        &self,
        key: K,
        sleeper: &Sl,
        timeout: Duration,
        make: F,
    ) -> WorkUntil<'_, K, V, E, S, F, Fut, Sl::Sleep>
    where
        Sl: Sleeper,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        self.work_with_deadline(key, sleeper.sleep(timeout), make)
    }

    /// Detaches `key`'s work in flight, if any: the callers already waiting
    /// on it still get its outcome (and a waiter still takes it over if
    /// its driver is dropped), but a caller that comes later starts a fresh
    /// execution instead of joining it. Returns whether there was one.
    ///
    /// For data that changed while the work was running: a cache drops a
    /// key's in-flight load when the key is removed, so nobody who asks
    /// after the removal gets a value read before it.
    ///
    /// ```
    /// use brace::singleflight::Group;
    /// use std::pin::pin;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let group: Group<&str, u32, ()> = Group::new();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let mut old = pin!(group.work("row", || async {
    ///     std::future::pending::<()>().await; // still reading the old row
    ///     Ok(1)
    /// }));
    /// assert!(old.as_mut().poll(&mut cx).is_pending());
    /// assert!(group.forget(&"row"));
    /// // A later caller runs its own work rather than joining the old one.
    /// let mut fresh = pin!(group.work("row", || async { Ok(2) }));
    /// assert_eq!(fresh.as_mut().poll(&mut cx), Poll::Ready(Ok(2)));
    /// assert_eq!(group.stats().executions, 2);
    /// ```
    pub fn forget(&self, key: &K) -> bool {
        // Dropped after the lock: the flight lives on in its callers.
        let detached = self.in_flight.lock().remove(key);
        detached.is_some()
    }

    /// Detaches every key's work in flight, as [`forget`](Self::forget)
    /// does for one.
    pub fn forget_all(&self) {
        // Keys and flights are dropped after the lock.
        let detached: alloc::vec::Vec<_> = self.in_flight.lock().drain().collect();
        drop(detached);
    }

    /// Keys whose work is in flight right now (detached work not counted).
    pub fn in_flight(&self) -> usize {
        self.in_flight.lock().len()
    }

    /// Whether `key`'s work is in flight right now.
    pub fn is_in_flight(&self, key: &K) -> bool {
        self.in_flight.lock().contains_key(key)
    }

    /// Counters since the group was made.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }
}

impl<K, V, E, S> fmt::Debug for Group<K, V, E, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let map = self.in_flight.lock();
        let waiting: usize = map.values().map(|flight| flight.waiting()).sum();
        f.debug_struct("Group")
            .field("in_flight", &map.len())
            .field("waiting", &waiting)
            .field("stats", &self.counters.snapshot())
            .finish()
    }
}
