//! The one place brace takes its atomics and locks from.
//!
//! Under `cfg(loom)` every type here is loom's model-checked twin, so the loom
//! models in `core/tests/loom_*.rs` explore the real code's interleavings.
//! Nothing else in the crate may import `core::sync::atomic` directly.
#![allow(unused_imports)]

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

#[cfg(not(loom))]
pub(crate) use alloc::sync::Arc;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Pads and aligns a value to the length of a cache line, so two hot counters
/// written by different threads never share one.
pub(crate) use crossbeam_utils::CachePadded;

/// A mutual-exclusion lock whose `lock()` returns the guard directly.
///
/// parking_lot's mutex in normal builds (no poisoning, small and fast);
/// loom's under `cfg(loom)`, unwrapped so both read the same at call sites.
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
}

/// loom's mutex behind the same `lock()` signature as the normal build.
#[cfg(loom)]
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub(crate) fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }

    /// Blocks until the lock is held. A poisoned lock (a panic while held)
    /// is taken over, as parking_lot does.
    #[inline]
    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
