//! The one place brace takes its atomics and locks from.
//!
//! Under `cfg(loom)` every type here is loom's model-checked twin, so the loom
//! models in `core/tests/loom_*.rs` explore the real code's interleavings.
//! Nothing else in the crate may import `core::sync::atomic` directly.
#![allow(unused_imports)]

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};

#[cfg(not(loom))]
pub(crate) use alloc::sync::Arc;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};

/// Pads and aligns a value to the length of a cache line, so two hot counters
/// written by different threads never share one.
pub(crate) use crossbeam_utils::CachePadded;

#[cfg(not(loom))]
pub(crate) use core::hint::spin_loop;
/// Tells the CPU (or loom's scheduler) that this thread is spinning on a
/// value another thread is about to change.
#[cfg(loom)]
pub(crate) use loom::hint::spin_loop;

/// A process-wide counter in a `static` (loom's atomics cannot be built in a
/// `const` context). Only for values no loom model reasons about, such as the
/// counter that varies jitter seeds.
pub(crate) use core::sync::atomic::AtomicU64 as StaticAtomicU64;
/// A reader-writer lock (std only): the keyed-breaker registry's shards and the
/// cache's invalidation predicates. Not model-checked under loom.
#[cfg(feature = "std")]
pub(crate) use parking_lot::RwLock;
/// A mutex with one `lock()` signature everywhere: parking_lot's (no
/// poisoning) normally, loom's model-checked mutex under `cfg(loom)`.
#[cfg(all(feature = "std", not(loom)))]
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(parking_lot::Mutex<T>);

#[cfg(all(feature = "std", not(loom)))]
impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub(crate) fn new(value: T) -> Self {
        Mutex(parking_lot::Mutex::new(value))
    }

    /// Blocks until the lock is held.
    #[inline]
    pub(crate) fn lock(&self) -> parking_lot::MutexGuard<'_, T> {
        self.0.lock()
    }

    /// Locks if no one holds the lock, without waiting.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<parking_lot::MutexGuard<'_, T>> {
        self.0.try_lock()
    }
}

/// A mutex with one `lock()` signature everywhere: parking_lot's (no
/// poisoning) normally, loom's model-checked mutex under `cfg(loom)`.
#[cfg(loom)]
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub(crate) fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }

    /// Locks, ignoring poisoning as parking_lot does.
    #[inline]
    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks if no one holds the lock, without waiting.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<loom::sync::MutexGuard<'_, T>> {
        match self.0.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// A small dense number for the calling thread (0, 1, 2, ... in order of
/// first call), used to pick a stripe of striped counters and buffers.
/// Any value is correct; distinct threads get distinct stripes when there are
/// enough of them.
#[cfg(feature = "std")]
pub(crate) fn thread_index() -> usize {
    static NEXT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
    std::thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
    INDEX.with(|i| *i)
}
