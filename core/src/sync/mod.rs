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
    AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};

#[cfg(not(loom))]
pub(crate) use alloc::sync::Arc;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{
    AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};

/// A process-wide counter in a `static` (loom's atomics cannot be built in a
/// `const` context). Only for values no loom model reasons about, such as the
/// counter that varies jitter seeds.
pub(crate) use core::sync::atomic::AtomicU64 as StaticAtomicU64;

/// Pads and aligns a value to the length of a cache line, so two hot counters
/// written by different threads never share one.
pub(crate) use crossbeam_utils::CachePadded;

/// Tells the CPU (or loom's scheduler) that this thread is spinning on a
/// value another thread is about to change.
#[cfg(not(loom))]
pub(crate) use core::hint::spin_loop;
#[cfg(loom)]
pub(crate) use loom::hint::spin_loop;

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

/// loom's mutex behind the same signatures as the normal build.
#[cfg(loom)]
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub(crate) fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }

    /// Blocks until the lock is held; a poisoned lock is taken over, as
    /// parking_lot does.
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

/// parking_lot's reader-writer lock, for std-only code: the cache's
/// invalidation predicates and single-flight groups, the keyed-breaker
/// registry's shards. Under `cfg(loom)`, loom's: a load asks the
/// invalidation predicates while another model thread may hold their lock
/// across an atomic store (a loom yield point), and a real lock held by a
/// thread loom has paused would block the whole model.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use parking_lot::RwLock;

/// loom's reader-writer lock behind parking_lot's signatures.
#[cfg(loom)]
#[derive(Debug, Default)]
pub(crate) struct RwLock<T>(loom::sync::RwLock<T>);

#[cfg(loom)]
impl<T> RwLock<T> {
    /// A new unlocked lock holding `value`.
    pub(crate) fn new(value: T) -> Self {
        RwLock(loom::sync::RwLock::new(value))
    }

    /// Blocks until shared access is held; poisoning is ignored, as
    /// parking_lot does.
    pub(crate) fn read(&self) -> loom::sync::RwLockReadGuard<'_, T> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Blocks until exclusive access is held; poisoning is ignored.
    pub(crate) fn write(&self) -> loom::sync::RwLockWriteGuard<'_, T> {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A reader-writer lock split into per-thread stripes, for the cache's
/// shards (read on every hit): readers on different CPUs write different
/// cache lines. The only unsafe code in the crate; see its module docs.
/// Not swapped for loom's either: the cache's lock order (policy mutex,
/// then shard) is written down in `cache/store.rs` and exercised by
/// `core/tests/cache_concurrent.rs`; Miri runs the lock's own tests.
#[cfg(feature = "std")]
mod read_mostly;
#[cfg(feature = "std")]
pub(crate) use read_mostly::ReadMostlyLock;

/// How many stripes a striped structure indexed by [`thread_index`] gets:
/// four per CPU (at least 8, at most 64), rounded to a power of two.
/// `thread_index` numbers threads in the order they first ask, process-wide,
/// so live threads are spread by their numbers' low bits; with stripes to
/// spare, two busy threads seldom share one.
#[cfg(feature = "std")]
pub(crate) fn stripe_count() -> usize {
    (cpus() * 4).next_power_of_two().clamp(8, 64)
}

/// The CPUs this process may run on, asked once (the answer reads the
/// affinity mask and cgroup quota, a few system calls; a cache builds one
/// lock per shard from it). 4 if the system does not say.
#[cfg(feature = "std")]
pub(crate) fn cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(4, |n| n.get()))
}

/// A small number for the calling thread, used to pick a stripe of striped
/// counters and buffers. Any value is correct; it only spreads contention.
///
/// * `std`: 0, 1, 2, ... in order of first call, so distinct threads get
///   distinct stripes while there are enough of them.
/// * loom: a hash of the thread's number within the model, the same in
///   every explored execution (loom requires a deterministic model, and a
///   stack address is not stable across executions).
/// * no `std`: a hash of a stack address (threads run on different stacks).
#[inline]
pub(crate) fn thread_index() -> usize {
    #[cfg(all(feature = "std", not(loom)))]
    {
        const UNSET: usize = usize::MAX;
        std::thread_local! {
            // A const initialiser keeps the access a plain TLS load.
            static INDEX: core::cell::Cell<usize> = const { core::cell::Cell::new(UNSET) };
        }
        #[cold]
        fn first_call() -> usize {
            static NEXT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
            let index = NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed) & (UNSET >> 1);
            INDEX.with(|i| i.set(index));
            index
        }
        match INDEX.with(|i| i.get()) {
            UNSET => first_call(),
            index => index,
        }
    }
    #[cfg(loom)]
    {
        // loom's `ThreadId` hashes an execution id that changes between
        // explored executions; its `Debug` form ("ThreadId(n)") holds only
        // the thread's number within the execution, so hash that (FNV-1a).
        use core::fmt::Write;
        struct Fnv(u64);
        impl Write for Fnv {
            fn write_str(&mut self, s: &str) -> core::fmt::Result {
                for b in s.bytes() {
                    self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
                Ok(())
            }
        }
        let mut hash = Fnv(0xcbf2_9ce4_8422_2325);
        let _ = write!(hash, "{:?}", loom::thread::current().id());
        (hash.0 >> 32) as usize
    }
    #[cfg(all(not(feature = "std"), not(loom)))]
    {
        let marker = 0u8;
        let addr = core::ptr::addr_of!(marker) as usize as u64;
        ((addr >> 12).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize
    }
}
