//! Which stripe of a striped counter the current thread writes: the
//! crate-wide [`crate::sync::thread_index`] (with `std`, threads are numbered
//! in the order they first record, so threads started one after another land
//! on different stripes). The choice only affects speed: every stripe is
//! counted.

pub(crate) use crate::sync::thread_index as thread_hint;

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
