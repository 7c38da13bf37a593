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
//! * The lock holds `stripes` raw parking_lot reader-writer locks, each on
//!   its own cache line, and the value in an `UnsafeCell`.
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
//! Poisoning does not exist here (parking_lot's raw locks have none): a
//! panic under a guard releases the locks as the guard unwinds.
//!
//! Miri checks this module's tests (`.ci/run`).
#![allow(unsafe_code)]

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use parking_lot::RawRwLock;
use parking_lot::lock_api::RawRwLock as _;

use super::{CachePadded, thread_index};

/// A reader-writer lock whose readers spread over per-stripe locks; see
/// the [module docs](self).
pub(crate) struct ReadMostlyLock<T> {
    stripes: Box<[CachePadded<RawRwLock>]>,
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
    /// to a power of two, at least one).
    pub(crate) fn with_stripes(value: T, stripes: usize) -> Self {
        let stripes = stripes.max(1).next_power_of_two();
        ReadMostlyLock {
            stripes: (0..stripes)
                .map(|_| CachePadded::new(RawRwLock::INIT))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
            value: UnsafeCell::new(value),
        }
    }

    /// Shared access: waits only while a writer holds (or waits for) the
    /// calling thread's stripe.
    #[inline]
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        let stripe = &self.stripes[thread_index() & (self.stripes.len() - 1)];
        stripe.lock_shared();
        ReadGuard {
            stripe,
            value: &self.value,
            not_send: PhantomData,
        }
    }

    /// Exclusive access: takes every stripe, in order.
    #[inline]
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        for stripe in self.stripes.iter() {
            stripe.lock_exclusive();
        }
        WriteGuard {
            lock: self,
            not_send: PhantomData,
        }
    }

    /// The value, through exclusive access to the lock itself.
    #[cfg(test)]
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

fn default_stripes() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .next_power_of_two()
        .min(8)
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
/// drop. Not `Send`: the stripe is released on the thread that took it.
pub(crate) struct ReadGuard<'a, T> {
    stripe: &'a RawRwLock,
    value: &'a UnsafeCell<T>,
    not_send: PhantomData<*const ()>,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds `stripe` in shared mode, and a writer must
        // hold every stripe exclusively, so no `&mut T` exists while this
        // guard (and the `&T` borrowed from it) lives.
        unsafe { &*self.value.get() }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `read` locked `stripe` in shared mode for this guard, and
        // this is the guard's only release of it.
        unsafe { self.stripe.unlock_shared() }
    }
}

/// Exclusive access to a [`ReadMostlyLock`]'s value; releases every stripe
/// on drop. Not `Send`, like [`ReadGuard`].
pub(crate) struct WriteGuard<'a, T> {
    lock: &'a ReadMostlyLock<T>,
    not_send: PhantomData<*const ()>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds every stripe exclusively, so no other
        // guard of the lock exists; the `&T` borrows this guard, so no
        // `&mut T` from it coexists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds every stripe exclusively, so no other
        // guard of the lock exists, and the `&mut T` borrows this guard
        // mutably, so it is the only reference to the value.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        for stripe in self.lock.stripes.iter().rev() {
            // SAFETY: `write` locked every stripe exclusively for this guard,
            // and this is the guard's only release of each.
            unsafe { stripe.unlock_exclusive() }
        }
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

    impl Probe for RawRwLock {
        fn try_lock_exclusive_probe(&self) -> bool {
            if self.try_lock_exclusive() {
                // SAFETY: just taken above.
                unsafe { self.unlock_exclusive() };
                true
            } else {
                false
            }
        }
    }
}
