//! Thread-striped counters for the block being filled.
//!
//! Each cell is alone on its cache line and packs `[calls: 32 | failures: 32]`
//! into one word, so recording an outcome is a single relaxed `fetch_add` on
//! a line no other thread (usually) writes. Slow calls are counted in a
//! second word of the same cell, touched only for slow calls.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::Counts;
use crate::sync::{AtomicU64, CachePadded, Ordering};

/// Number of cells; a power of two. Loom models use two, which is enough to
/// exercise harvesting one cell while another is written.
#[cfg(not(loom))]
const STRIPES: usize = 8;
#[cfg(loom)]
const STRIPES: usize = 2;

const CALL: u64 = 1 << 32;
const FAILURE: u64 = 1;

#[derive(Debug, Default)]
struct Cell {
    outcomes: AtomicU64,
    slow: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Stripes {
    cells: Box<[CachePadded<Cell>]>,
}

impl Stripes {
    pub(crate) fn new() -> Self {
        let cells: Vec<_> = (0..STRIPES)
            .map(|_| CachePadded::new(Cell::default()))
            .collect();
        Stripes {
            cells: cells.into_boxed_slice(),
        }
    }

    /// Counts one call in this thread's cell and returns how many calls the
    /// cell now holds.
    #[inline(always)]
    pub(crate) fn add(&self, failed: bool, slow: bool) -> u64 {
        let cell = &self.cells[stripe_index()];
        let delta = CALL | if failed { FAILURE } else { 0 };
        let before = cell.outcomes.fetch_add(delta, Ordering::Relaxed);
        if slow {
            cell.slow.fetch_add(1, Ordering::Relaxed);
        }
        (before >> 32) + 1
    }

    /// Calls held by this thread's cell.
    pub(crate) fn calls_here(&self) -> u64 {
        self.cells[stripe_index()].outcomes.load(Ordering::Relaxed) >> 32
    }

    /// Takes this thread's cell's counts, leaving zeros.
    pub(crate) fn harvest_here(&self) -> Counts {
        let cell = &self.cells[stripe_index()];
        unpack(take(&cell.outcomes), take(&cell.slow))
    }

    /// Takes every cell's counts, leaving zeros.
    pub(crate) fn harvest(&self) -> Counts {
        let mut total = Counts::default();
        for cell in self.cells.iter() {
            total += unpack(take(&cell.outcomes), take(&cell.slow));
        }
        total
    }

    /// The sum of every cell, leaving them as they are.
    pub(crate) fn peek(&self) -> Counts {
        self.cells.iter().fold(Counts::default(), |acc, cell| {
            acc + unpack(
                cell.outcomes.load(Ordering::Relaxed),
                cell.slow.load(Ordering::Relaxed),
            )
        })
    }
}

/// Takes a counter's value, leaving 0. Loads first: an idle counter is
/// common, and a plain load of it is far cheaper than a swap.
fn take(word: &AtomicU64) -> u64 {
    match word.load(Ordering::Relaxed) {
        0 => 0,
        _ => word.swap(0, Ordering::Relaxed),
    }
}

fn unpack(packed: u64, slow: u64) -> Counts {
    Counts {
        calls: packed >> 32,
        failures: packed & 0xFFFF_FFFF,
        slow,
    }
}

/// The cell the current thread writes to: [`crate::sync::thread_index`]
/// (threads take cells round-robin on first use, so two threads never share
/// one until there are more threads than cells). The choice only affects
/// contention, never correctness.
#[inline]
fn stripe_index() -> usize {
    crate::sync::thread_index() & (STRIPES - 1)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn add_peek_and_harvest() {
        let s = Stripes::new();
        assert_eq!(s.add(false, false), 1);
        assert_eq!(s.add(true, true), 2);
        assert_eq!(s.calls_here(), 2);
        let c = s.peek();
        assert_eq!((c.calls, c.failures, c.slow), (2, 1, 1));
        assert_eq!(s.harvest(), c);
        assert_eq!(s.peek(), Counts::default());
    }

    #[test]
    fn counts_from_many_threads_add_up() {
        let s = std::sync::Arc::new(Stripes::new());
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let s = std::sync::Arc::clone(&s);
                std::thread::spawn(move || {
                    for i in 0..100 {
                        s.add(i % 4 == t, false);
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        let total = s.harvest();
        assert_eq!((total.calls, total.failures), (400, 100));
    }
}
