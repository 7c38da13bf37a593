//! Which stripe of a striped counter the current thread writes.
//!
//! With `std`, each thread takes the next number from a global counter the
//! first time it records and keeps it (a `thread_local`), so threads started
//! one after another land on different stripes. Without `std` there are no
//! thread-locals; the address of a stack variable stands in for the thread
//! (each thread has its own stack), hashed so neighbouring stacks spread.
//! Either way the choice only affects speed: every stripe is counted.

#[cfg(all(feature = "std", not(loom)))]
pub(crate) fn thread_hint() -> usize {
    use crate::sync::{AtomicUsize, Ordering};
    use core::cell::Cell;

    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static HINT: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    HINT.with(|hint| {
        let mut h = hint.get();
        if h == usize::MAX {
            h = NEXT.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
            hint.set(h);
        }
        h
    })
}

#[cfg(not(all(feature = "std", not(loom))))]
pub(crate) fn thread_hint() -> usize {
    let marker = 0u8;
    let addr = core::ptr::addr_of!(marker) as usize as u64;
    ((addr >> 12).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize
}
