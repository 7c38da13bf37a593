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

/// A quiet roll of a cell looks for idle cells every this many rolls
/// (a power of two, so the test is a mask): leftovers of a stopped thread
/// are taken within two such periods of a recording thread's blocks.
const IDLE_SWEEP_PERIOD: u64 = 8;

const CALL: u64 = 1 << 32;
const FAILURE: u64 = 1;

#[derive(Debug, Default)]
struct Cell {
    outcomes: AtomicU64,
    slow: AtomicU64,
    /// Blocks this cell completed without publishing them (a quiet count
    /// window's local rolls); written only by the cell's own thread(s).
    quiet_rolls: AtomicU64,
    /// What this cell's thread saw of every cell at its last idle sweep
    /// ([`fingerprint`]); written only by the cell's own thread(s).
    seen: [AtomicU64; STRIPES],
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

    /// This thread's cell's counts, left as they are.
    pub(crate) fn peek_here(&self) -> Counts {
        let cell = &self.cells[stripe_index()];
        unpack(
            cell.outcomes.load(Ordering::Relaxed),
            cell.slow.load(Ordering::Relaxed),
        )
    }

    /// Counts one local roll in this thread's cell; true on every
    /// [`IDLE_SWEEP_PERIOD`]-th. A plain load and store: two threads
    /// sharing a cell may lose a count, which only shifts when the next one
    /// comes.
    pub(crate) fn count_quiet_roll_here(&self) -> bool {
        let cell = &self.cells[stripe_index()];
        let rolls = cell.quiet_rolls.load(Ordering::Relaxed).wrapping_add(1);
        cell.quiet_rolls.store(rolls, Ordering::Relaxed);
        rolls % IDLE_SWEEP_PERIOD == 0
    }

    /// Takes this thread's cell's counts, leaving zeros.
    pub(crate) fn harvest_here(&self) -> Counts {
        let cell = &self.cells[stripe_index()];
        unpack(take(&cell.outcomes), take(&cell.slow))
    }

    /// Takes the counts of every other cell that has not changed since this
    /// thread's previous call, leaving zeros there: the leftovers of threads
    /// that stopped recording. A cell that moved is only looked at (a read
    /// of its line, not a write), so an idle sweep costs a recording thread
    /// nothing beyond that read.
    pub(crate) fn harvest_idle(&self) -> Counts {
        let here = stripe_index();
        let seen = &self.cells[here].seen;
        let mut total = Counts::default();
        for (i, cell) in self.cells.iter().enumerate() {
            if i == here {
                continue;
            }
            let print = fingerprint(cell);
            if print == 0 {
                continue;
            }
            if seen[i].load(Ordering::Relaxed) == print {
                total += unpack(take(&cell.outcomes), take(&cell.slow));
            } else {
                seen[i].store(print, Ordering::Relaxed);
            }
        }
        total
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

/// A cell's progress: changes whenever its thread records (the counts grow)
/// or rolls (the counts drop and, in a quiet window, the roll count grows).
/// 0 for an empty cell. Two readings that are equal but far apart in time
/// only make an idle sweep take a cell that was still in use, which any
/// sweep may do.
fn fingerprint(cell: &Cell) -> u64 {
    let counts = cell.outcomes.load(Ordering::Relaxed) ^ cell.slow.load(Ordering::Relaxed);
    match counts {
        0 => 0,
        _ => counts ^ cell.quiet_rolls.load(Ordering::Relaxed).rotate_left(24),
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
