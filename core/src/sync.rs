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

/// Locks for std-only modules. They are not model-checked under loom: the
/// modules that use them (cache, single-flight) have no loom models.
#[cfg(feature = "std")]
pub(crate) use parking_lot::{Mutex, MutexGuard, RwLock};

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
