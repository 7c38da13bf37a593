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

/// A process-wide counter in a `static` (loom's atomics cannot be built in a
/// `const` context). Only for values no loom model reasons about, such as the
/// counter that varies jitter seeds.
pub(crate) use core::sync::atomic::AtomicU64 as StaticAtomicU64;

#[cfg(not(loom))]
pub(crate) use core::hint::spin_loop;
/// Tells the CPU (or loom's scheduler) that this thread is spinning on a
/// value another thread is about to change.
#[cfg(loom)]
pub(crate) use loom::hint::spin_loop;
