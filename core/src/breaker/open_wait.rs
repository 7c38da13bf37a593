//! Waking tasks when the breaker opens: for callers that wait on something
//! else (a service's readiness) and want to fail fast once the breaker
//! refuses calls.
//!
//! ```text
//! OpenWaiters: Mutex<[ slot 0: Some(waker) | slot 1: None | ... ]> + free list
//! ```
//!
//! * A slot belongs to one [`OpenWait`] from its first `register` until it
//!   is dropped; only then does the slot go back to the free list, so a slot
//!   is never shared and the list never outgrows the live `OpenWait`s.
//! * `register` puts the task's waker in its slot (kept if it `will_wake`
//!   the same task, replaced otherwise); `cancel` empties the slot.
//! * A transition into `Open` or `ForcedOpen` takes every waker out of the
//!   slots under the lock and wakes them after releasing it. It runs after
//!   the transition is published (BUSY cleared), so a waiter that registers
//!   and then reads the state either is in the list when it is emptied or
//!   sees the new state: no wake-up is lost.
//!
//! Nothing here runs on `try_acquire` or on recording an outcome.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::task::Waker;

use crate::sync::Mutex;

/// The wakers to wake on the next transition into an open state.
#[derive(Default)]
pub(crate) struct OpenWaiters {
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl OpenWaiters {
    /// Wakes every registered task, with the lock released.
    pub(crate) fn wake_all(&self) {
        let woken: Vec<Waker> = {
            let mut slots = self.slots.lock();
            slots.wakers.iter_mut().filter_map(Option::take).collect()
        };
        crate::wake::wake_all(woken);
    }
}

/// A task's place among those woken when a
/// [`CircuitBreaker`](super::CircuitBreaker) opens (trips, or is forced
/// open), from [`CircuitBreaker::open_wait`](super::CircuitBreaker::open_wait).
///
/// For a caller parked on something other than the breaker (a service's
/// readiness, a queue): [`register`](Self::register) its waker when it is
/// about to return `Pending`, then read the breaker's state once more (a
/// transition between the first read and the registration would otherwise
/// go unnoticed). Each opening wakes every registered task once; a task that
/// still waits registers again.
///
/// # Cancellation
///
/// Dropping it (or [`cancel`](Self::cancel)) drops its waker; the breaker
/// keeps at most one waker per live `OpenWait`.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config};
/// use brace::time::ManualClock;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::task::{Wake, Waker};
///
/// struct Count(AtomicUsize);
/// impl Wake for Count {
///     fn wake(self: Arc<Self>) {
///         self.0.fetch_add(1, Ordering::SeqCst);
///     }
/// }
///
/// let breaker = CircuitBreaker::new(Config::default(), ManualClock::new());
/// let count = Arc::new(Count(AtomicUsize::new(0)));
/// let mut wait = breaker.open_wait();
/// wait.register(&Waker::from(count.clone()));
/// breaker.force_open();
/// assert_eq!(count.0.load(Ordering::SeqCst), 1);
/// ```
pub struct OpenWait {
    waiters: Arc<OpenWaiters>,
    /// The slot, once `register` took one.
    slot: Option<usize>,
    /// A waker may be in the slot: registered and not cancelled since (an
    /// opening empties the slot without clearing this; `cancel` then takes
    /// the lock for nothing, once).
    registered: bool,
}

impl OpenWait {
    pub(crate) fn new(waiters: Arc<OpenWaiters>) -> Self {
        OpenWait {
            waiters,
            slot: None,
            registered: false,
        }
    }

    /// Wakes `waker`'s task on the next transition into an open state.
    /// Replaces the waker registered before, unless it wakes the same task.
    pub fn register(&mut self, waker: &Waker) {
        self.registered = true;
        let replaced = {
            let mut slots = self.waiters.slots.lock();
            let slots = &mut *slots;
            let slot = *self.slot.get_or_insert_with(|| match slots.free.pop() {
                Some(free) => free,
                None => {
                    slots.wakers.push(None);
                    slots.wakers.len() - 1
                }
            });
            let current = &mut slots.wakers[slot];
            match current {
                Some(w) if w.will_wake(waker) => None,
                _ => current.replace(waker.clone()),
            }
        };
        // A waker's drop may run the task's own code: not under the lock.
        drop(replaced);
    }

    /// Forgets the registered waker, if any (the task stopped waiting).
    /// Takes no lock unless a waker was registered since the last `cancel`.
    pub fn cancel(&mut self) {
        if !core::mem::take(&mut self.registered) {
            return;
        }
        if let Some(slot) = self.slot {
            let dropped = self.waiters.slots.lock().wakers[slot].take();
            drop(dropped);
        }
    }
}

impl Drop for OpenWait {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let dropped = {
                let mut slots = self.waiters.slots.lock();
                slots.free.push(slot);
                slots.wakers[slot].take()
            };
            drop(dropped);
        }
    }
}

impl fmt::Debug for OpenWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenWait")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl OpenWaiters {
    /// How many tasks are registered now (for tests).
    #[cfg(test)]
    pub(crate) fn registered(&self) -> usize {
        self.slots.lock().wakers.iter().flatten().count()
    }

    /// How many slots exist, taken or free (for tests).
    #[cfg(test)]
    pub(crate) fn slots(&self) -> usize {
        self.slots.lock().wakers.len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use core::sync::atomic::{AtomicUsize, Ordering};
    use core::time::Duration;
    use std::task::Wake;

    use super::*;
    use crate::breaker::{CircuitBreaker, Config, State};
    use crate::time::ManualClock;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count::default());
        (Arc::clone(&count), Waker::from(count))
    }

    fn woken(count: &Count) -> usize {
        count.0.load(Ordering::SeqCst)
    }

    fn breaker() -> (CircuitBreaker<ManualClock>, ManualClock) {
        let config = Config::builder()
            .consecutive_failures(1)
            .open_duration(Duration::from_secs(10))
            .permitted_calls_in_half_open(1)
            .build()
            .unwrap();
        let clock = ManualClock::new();
        (CircuitBreaker::new(config, clock.clone()), clock)
    }

    fn waiters(b: &CircuitBreaker<ManualClock>) -> &OpenWaiters {
        b.open_waiters.get().expect("an OpenWait was made")
    }

    #[test]
    fn a_trip_and_a_forced_open_each_wake_the_registered_tasks_once() {
        let (b, clock) = breaker();
        let (count, waker) = counting();
        let (other_count, other) = counting();
        let mut wait = b.open_wait();
        let mut other_wait = b.open_wait();
        wait.register(&waker);
        other_wait.register(&other);

        b.try_acquire().unwrap().record_failure();
        assert_eq!(b.state(), State::Open);
        assert_eq!((woken(&count), woken(&other_count)), (1, 1));
        assert_eq!(waiters(&b).registered(), 0, "woken wakers are dropped");

        // Half-open and closed wake no one; a probe failing reopens.
        wait.register(&waker);
        clock.advance(Duration::from_secs(10));
        b.try_acquire().unwrap().record_success();
        assert_eq!(b.state(), State::Closed);
        assert_eq!(woken(&count), 1);
        b.force_open();
        assert_eq!((woken(&count), woken(&other_count)), (2, 1));
    }

    #[test]
    fn the_same_task_registering_again_keeps_one_waker() {
        let (b, _) = breaker();
        let (count, waker) = counting();
        let mut wait = b.open_wait();
        for _ in 0..1_000 {
            wait.register(&waker);
        }
        assert_eq!((waiters(&b).registered(), waiters(&b).slots()), (1, 1));
        let (new_count, new_waker) = counting();
        wait.register(&new_waker);
        // `count` and `waker` are all that is left of the first task.
        assert_eq!(
            Arc::strong_count(&count),
            2,
            "the replaced waker is dropped"
        );
        b.force_open();
        assert_eq!((woken(&count), woken(&new_count)), (0, 1));
    }

    #[test]
    fn cancelled_and_dropped_registrations_hold_no_waker_and_no_slot() {
        let (b, _) = breaker();
        let (count, waker) = counting();
        let mut kept = b.open_wait();
        kept.register(&waker);
        kept.cancel();
        assert_eq!(waiters(&b).registered(), 0);
        for _ in 0..1_000 {
            let mut gone = b.open_wait();
            gone.register(&waker);
        }
        assert_eq!(waiters(&b).slots(), 2, "freed slots are reused");
        assert_eq!(
            Arc::strong_count(&count),
            2,
            "only `count` and `waker` remain"
        );
        b.force_open();
        assert_eq!(woken(&count), 0);
    }

    #[test]
    fn a_breaker_nobody_waits_on_has_no_list() {
        let (b, _) = breaker();
        b.force_open();
        assert!(b.open_waiters.get().is_none());
    }
}
