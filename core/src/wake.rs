//! Waking a list of waiters, whatever their wakers do.

use alloc::vec::Vec;
use core::task::Waker;

/// Wakes every waker in `wakers`. One that panics does not keep the others
/// asleep: they are woken while its panic unwinds (a second panicking waker
/// among them then aborts, as any panic during an unwind does).
pub(crate) fn wake_all(wakers: Vec<Waker>) {
    struct Rest(alloc::vec::IntoIter<Waker>);
    impl Drop for Rest {
        fn drop(&mut self) {
            self.0.by_ref().for_each(Waker::wake);
        }
    }
    let mut rest = Rest(wakers.into_iter());
    // `by_ref`: what a panicking waker leaves behind stays in `rest`.
    for waker in rest.0.by_ref() {
        waker.wake();
    }
}
