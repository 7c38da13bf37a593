//! Which stripe of a striped counter the current thread writes.
//!
//! With `std`, each thread takes the next number from a global counter the
//! first time it records and keeps it (a `thread_local`), so threads started
//! one after another land on different stripes. Without `std` there are no
//! thread-locals; the address of a stack variable stands in for the thread
//! (each thread has its own stack), hashed so neighbouring stacks spread.
//! Either way the choice only affects speed: every stripe is counted.

#[cfg(all(feature = "std", not(loom)))]
std::thread_local! {
    static HINT: core::cell::Cell<usize> = const { core::cell::Cell::new(usize::MAX) };
}

#[cfg(all(feature = "std", not(loom)))]
#[inline]
pub(crate) fn thread_hint() -> usize {
    let h = HINT.with(|hint| hint.get());
    if h != usize::MAX { h } else { first_hint() }
}

/// Takes this thread's number on its first record.
#[cfg(all(feature = "std", not(loom)))]
#[cold]
fn first_hint() -> usize {
    use crate::sync::{AtomicUsize, Ordering};

    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let h = NEXT.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
    HINT.with(|hint| hint.set(h));
    h
}

#[cfg(not(all(feature = "std", not(loom))))]
#[inline]
pub(crate) fn thread_hint() -> usize {
    crate::sync::thread_index()
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_hint_and_the_next_thread_gets_another() {
        let mine = thread_hint();
        assert_eq!(thread_hint(), mine);
        let a = std::thread::spawn(thread_hint).join().unwrap();
        let b = std::thread::spawn(thread_hint).join().unwrap();
        // Each thread takes a fresh number (tests running in parallel may
        // take numbers in between, so only distinctness is certain here).
        assert_ne!(a, b);
        assert_ne!(a, mine);
    }
}
