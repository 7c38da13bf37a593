//! A reader-writer lock for data read far more often than written: one
//! lock per stripe of threads, so readers on different CPUs never write the
//! same cache line.
//!
//! # Why
//!
//! Taking a read lock is a write to the lock word. With one lock word per
//! cache shard, two threads reading the same shard pass that word's cache
//! line back and forth on every read (30–60 ns a transfer on the 2-vCPU VM
//! the benchmarks run on), which is most of what a cache hit costs at two
//! threads once the entry itself is in cache.
//!
//! # Protocol
//!
//! * The lock holds `stripes` reader-writer locks over `()`, each on its
//!   own cache line, and the value in an `UnsafeCell`. The stripes are
//!   parking_lot's locks (a cache write at two threads, which takes all of
//!   them, cost ~187 ns with std's against ~148, medians of ten runs);
//!   under Miri they are std's, because Miri rejects parking_lot_core's
//!   futex call (it passes a reference where the syscall takes a pointer);
//!   under loom they are loom's, so that its models see the ordering the
//!   locks give.
//!   Either way this module only takes and drops guards: its unsafe code is
//!   the guards' dereferences of the cell, which rely on reader-writer
//!   semantics both locks provide, and that is what Miri checks.
//! * A reader takes the lock of its stripe (`thread_index() % stripes`)
//!   in shared mode and holds it while the guard lives.
//! * A writer takes every stripe's lock in exclusive mode, in index order,
//!   and holds all of them while its guard lives.
//!
//! A live reader holds one stripe shared, and a live writer holds all
//! stripes exclusively, so a writer never coexists with a reader or with
//! another writer: a `&T` handed out under a read guard never aliases a
//! `&mut T`, and two `&mut T` never coexist. Writers take the stripes in
//! the same order, so two writers cannot deadlock each other; a reader
//! holds only one stripe, so it cannot be part of a cycle either (as long
//! as it takes no second lock of the same `ReadMostlyLock` while holding
//! the first: the cache never nests them).
//!
//! The price is on the write side: a write takes `stripes` locks instead of
//! one, and at two threads a write moves the other thread's stripe line.
//! The cache's benchmarks (`compare cache`) show the balance.
//!
//! Poisoning is ignored, as with parking_lot: a panic under a guard
//! releases the locks as the guard unwinds, and the next taker proceeds.
//!
//! Miri checks this module's tests (`.ci/run`).
#![allow(unsafe_code)]

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::fmt;
use core::ops::{Deref, DerefMut};

#[cfg(loom)]
use loom::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
#[cfg(not(any(miri, loom)))]
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
#[cfg(all(miri, not(loom)))]
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{CachePadded, thread_index};

/// Most stripes a lock gets (a write guard keeps one inner guard each).
const MAX_STRIPES: usize = 8;

/// A reader-writer lock whose readers spread over per-stripe locks; see
/// the [module docs](self).
pub(crate) struct ReadMostlyLock<T> {
    stripes: Box<[CachePadded<RwLock<()>>]>,
    value: UnsafeCell<T>,
}

// SAFETY: like `std::sync::RwLock`: the lock moves a `T` between threads
// (writers mutate it, the last owner drops it), so it needs `T: Send`;
// several threads may hold `&T` at once through read guards, so sharing the
// lock needs `T: Sync` as well. The stripes themselves are `Send + Sync`.
unsafe impl<T: Send> Send for ReadMostlyLock<T> {}
// SAFETY: see above.
unsafe impl<T: Send + Sync> Sync for ReadMostlyLock<T> {}

impl<T> ReadMostlyLock<T> {
    /// An unlocked lock holding `value`, with one stripe per CPU (a power of
    /// two, at most 8).
    pub(crate) fn new(value: T) -> Self {
        Self::with_stripes(value, default_stripes())
    }

    /// An unlocked lock holding `value`, with `stripes` stripes (rounded up
    /// to a power of two, between 1 and 8).
    pub(crate) fn with_stripes(value: T, stripes: usize) -> Self {
        let stripes = stripes.clamp(1, MAX_STRIPES).next_power_of_two();
        ReadMostlyLock {
            stripes: (0..stripes)
                .map(|_| CachePadded::new(RwLock::new(())))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
            value: UnsafeCell::new(value),
        }
    }

    /// Shared access: waits only while a writer holds (or waits for) the
    /// calling thread's stripe.
    #[inline]
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        self.read_as(thread_index())
    }

    /// [`read`](Self::read) for the caller whose [`thread_index`] is
    /// `thread` (a caller that needs it for other stripes too reads it
    /// once).
    #[inline]
    pub(crate) fn read_as(&self, thread: usize) -> ReadGuard<'_, T> {
        let stripe = &self.stripes[thread & (self.stripes.len() - 1)];
        ReadGuard {
            _stripe: held(stripe.read()),
            value: &self.value,
        }
    }

    /// Exclusive access: takes every stripe, in order.
    #[inline]
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        let mut stripes = [const { None }; MAX_STRIPES];
        for (slot, stripe) in stripes.iter_mut().zip(self.stripes.iter()) {
            *slot = Some(held(stripe.write()));
        }
        WriteGuard {
            _stripes: stripes,
            value: &self.value,
        }
    }

    /// The value, through exclusive access to the lock itself.
    #[cfg(test)]
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

/// A stripe's guard as its lock returns it: parking_lot's directly.
#[cfg(not(any(miri, loom)))]
#[inline]
fn held<G>(guard: G) -> G {
    guard
}

/// A stripe's guard as its lock returns it: std's (or loom's), poisoning
/// ignored.
#[cfg(any(miri, loom))]
fn held<G>(result: std::sync::LockResult<G>) -> G {
    result.unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn default_stripes() -> usize {
    super::cpus().next_power_of_two().min(MAX_STRIPES)
}

/// Shows the stripe count only: formatting takes no lock (so it cannot block
/// on, or deadlock with, a writer).
impl<T> fmt::Debug for ReadMostlyLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadMostlyLock")
            .field("stripes", &self.stripes.len())
            .finish_non_exhaustive()
    }
}

/// Shared access to a [`ReadMostlyLock`]'s value; releases its stripe on
/// drop. Not `Send` (the inner guards are not).
pub(crate) struct ReadGuard<'a, T> {
    _stripe: RwLockReadGuard<'a, ()>,
    value: &'a UnsafeCell<T>,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds its stripe in shared mode, and a writer
        // must hold every stripe exclusively, so no `&mut T` exists while
        // this guard (and the `&T` borrowed from it) lives.
        unsafe { &*self.value.get() }
    }
}

/// Exclusive access to a [`ReadMostlyLock`]'s value; releases every stripe
/// on drop. Not `Send`, like [`ReadGuard`].
pub(crate) struct WriteGuard<'a, T> {
    /// One exclusive guard per stripe of the lock (the rest `None`).
    _stripes: [Option<RwLockWriteGuard<'a, ()>>; MAX_STRIPES],
    value: &'a UnsafeCell<T>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds every stripe exclusively, so no other
        // guard of the lock exists; the `&T` borrows this guard, so no
        // `&mut T` from it coexists.
        unsafe { &*self.value.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds every stripe exclusively, so no other
        // guard of the lock exists, and the `&mut T` borrows this guard
        // mutably, so it is the only reference to the value.
        unsafe { &mut *self.value.get() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::sync::Arc;
    use alloc::vec;
    use core::sync::atomic::{AtomicBool, Ordering};
    use std::thread;

    #[test]
    fn stripes_round_up_to_a_power_of_two() {
        assert_eq!(ReadMostlyLock::with_stripes(0u8, 0).stripes.len(), 1);
        assert_eq!(ReadMostlyLock::with_stripes(0u8, 3).stripes.len(), 4);
        assert_eq!(ReadMostlyLock::with_stripes(0u8, 100).stripes.len(), 8);
        let default = ReadMostlyLock::new(0u8).stripes.len();
        assert!(default.is_power_of_two() && default <= 8);
    }

    #[test]
    fn readers_share_and_a_writer_excludes_them() {
        let lock = ReadMostlyLock::with_stripes(vec![1, 2, 3], 4);
        {
            let a = lock.read();
            let b = lock.read();
            assert_eq!(a.len() + b.len(), 6);
            // Every stripe a reader could hold blocks a writer: it cannot
            // take them all while a read guard lives.
            assert!(lock.stripes.iter().any(|s| !s.try_lock_exclusive_probe()));
        }
        lock.write().push(4);
        assert_eq!(*lock.read(), [1, 2, 3, 4]);
        assert!(lock.stripes.iter().all(|s| s.try_lock_exclusive_probe()));
    }

    #[test]
    fn a_writer_blocks_readers_on_every_stripe() {
        let lock = Arc::new(ReadMostlyLock::with_stripes(0u64, 4));
        let written = Arc::new(AtomicBool::new(false));
        let mut guard = lock.write();
        // Readers on fresh threads (distinct thread indices, so several
        // stripes) must wait for the writer and then see its write.
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (lock, written) = (Arc::clone(&lock), Arc::clone(&written));
                thread::spawn(move || {
                    let value = *lock.read();
                    assert!(
                        written.load(Ordering::SeqCst),
                        "read while a writer held the lock"
                    );
                    value
                })
            })
            .collect();
        thread::sleep(std::time::Duration::from_millis(20));
        *guard = 7;
        written.store(true, Ordering::SeqCst);
        drop(guard);
        for r in readers {
            assert_eq!(r.join().unwrap(), 7);
        }
    }

    #[test]
    fn concurrent_writers_and_readers_never_see_a_torn_pair() {
        let threads = if cfg!(miri) { 3 } else { 4 };
        let rounds = if cfg!(miri) { 50 } else { 20_000 };
        let lock = Arc::new(ReadMostlyLock::with_stripes((0u64, 0u64), 2));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || {
                    for i in 0..rounds {
                        if (i + t) % 4 == 0 {
                            let mut w = lock.write();
                            w.0 += 1;
                            w.1 += 1;
                        } else {
                            let r = lock.read();
                            assert_eq!(r.0, r.1, "a reader saw half a write");
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let mut lock = Arc::try_unwrap(lock).expect("threads are done");
        let (a, b) = *lock.get_mut();
        assert_eq!(a, b);
        assert_eq!(
            a,
            (0..threads)
                .map(|t| (0..rounds).filter(|i| (i + t) % 4 == 0).count() as u64)
                .sum::<u64>()
        );
    }

    #[test]
    fn a_panic_under_a_guard_releases_the_stripes() {
        let lock = Arc::new(ReadMostlyLock::with_stripes(0u32, 2));
        let l = Arc::clone(&lock);
        let result = thread::spawn(move || {
            let _w = l.write();
            panic!("panic while writing");
        })
        .join();
        assert!(result.is_err());
        *lock.write() += 1;
        assert_eq!(*lock.read(), 1);
    }

    /// Whether the stripe could be taken exclusively right now (released again
    /// at once).
    trait Probe {
        fn try_lock_exclusive_probe(&self) -> bool;
    }

    impl Probe for RwLock<()> {
        fn try_lock_exclusive_probe(&self) -> bool {
            #[cfg(not(any(miri, loom)))]
            return self.try_write().is_some();
            #[cfg(any(miri, loom))]
            return self.try_write().is_ok();
        }
    }
}
