//! The closed state's recent outcomes: a count window or a time window.
//!
//! Both are a ring of `K` completed blocks plus the block being filled. The
//! block being filled lives in thread-striped cells ([`stripes`]), so
//! recording is one relaxed `fetch_add` on the thread's own cache line; no
//! lock, no allocation.
//!
//! * **Count window** of `N` calls: `K = min(N, 8)` blocks of
//!   `B = ceil(N / K)` calls. A block completes when the recording thread's
//!   own cell reaches `B` calls: that cell alone becomes the block, so a
//!   roll touches no other thread's cache line and, under concurrency,
//!   blocks are runs of `B` calls of one thread each. Every `K`-th roll
//!   instead takes every cell (a sweep), so calls left in the cell of a
//!   thread that stopped recording age into the ring within one window
//!   instead of lingering. The window's rate is then over the last `K`
//!   blocks plus what the cells hold: `N` calls plus, per active thread,
//!   fewer than `B` not yet rolled.
//! * **Time window** of span `T`: `K` buckets of `T / K`; a record first
//!   rolls the window if the clock has moved into a later bucket.
//!
//! The rate is taken over the `K` completed blocks (or buckets) before the
//! current one, plus the current one.
//!
//! Rolling: whoever wins the `rolling` flag (a try-lock taken only at block
//! ends, never waited on by recorders) harvests its cell (a count window
//! outside a sweep) or every cell into the ring slot `current % K`, tags it
//! with `current`, and advances `current`. A record that loses the flag
//! just adds to the cells: its call lands in the block being harvested or
//! a later one, never nowhere; a thread whose roll lost the flag tries
//! again on its next record. A roll asks the breaker
//! to re-evaluate the rates only while the window still holds a block with a
//! failure or slow call (`last_bad`): successes alone can trip nothing, so
//! the common all-success roll never sums the window. Readers summing the ring
//! while a roll is under way may miss or double-see one block for that
//! instant; trip decisions are re-taken on the next failure.

mod stripes;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::{Add, AddAssign};

use stripes::Stripes;

use super::config::WindowKind;
use crate::sync::{AtomicBool, AtomicU64, CachePadded, Ordering, spin_loop};
use crate::time::Nanos;

/// Outcome counts of a block or of the whole window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Add for Counts {
    type Output = Counts;
    fn add(self, o: Counts) -> Counts {
        Counts {
            calls: self.calls + o.calls,
            failures: self.failures + o.failures,
            slow: self.slow + o.slow,
        }
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        *self = *self + o;
    }
}

const EMPTY: u64 = u64::MAX;

/// Blocks in a count window (a power of two: the slot is `index & 7`).
const BLOCKS: u32 = 8;

/// One completed block in the ring.
#[derive(Debug)]
struct Block {
    tag: AtomicU64,
    calls: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
enum Span {
    Calls { block: u64 },
    Time { bucket: u64 },
}

#[derive(Debug)]
pub(crate) struct Window {
    span: Span,
    cells: Stripes,
    ring: Box<[Block]>,
    /// Written at every roll, so kept off the line the recording path reads.
    roll: CachePadded<RollState>,
}

#[derive(Debug)]
struct RollState {
    /// Index of the block being filled (count: blocks since reset; time:
    /// `now / bucket`).
    current: AtomicU64,
    /// The roll try-lock.
    rolling: AtomicBool,
    /// Index of the newest completed block that held a failure or a slow
    /// call (`EMPTY`: none since the last reset). Written under `rolling`.
    /// A roll asks for a rate evaluation only while that block is still in
    /// the window: a window of successes alone can trip nothing.
    last_bad: AtomicU64,
}

impl Window {
    pub(crate) fn new(kind: WindowKind) -> Self {
        let (span, blocks) = match kind {
            WindowKind::Count { calls } => {
                let blocks = calls.min(BLOCKS) as u64;
                let block = (calls as u64).div_ceil(blocks);
                (Span::Calls { block }, blocks)
            }
            WindowKind::Time { span, buckets } => {
                let bucket = Nanos::from_duration(span / buckets).as_u64();
                (Span::Time { bucket }, buckets as u64)
            }
        };
        let ring: Vec<Block> = (0..blocks)
            .map(|_| Block {
                tag: AtomicU64::new(EMPTY),
                calls: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                slow: AtomicU64::new(0),
            })
            .collect();
        Window {
            span,
            cells: Stripes::new(),
            ring: ring.into_boxed_slice(),
            roll: CachePadded::new(RollState {
                current: AtomicU64::new(0),
                rolling: AtomicBool::new(false),
                last_bad: AtomicU64::new(EMPTY),
            }),
        }
    }

    /// Counts one outcome. `now` is read only by a time window. Returns
    /// whether this call completed (rolled) a block while the window holds a
    /// failure or a slow call, that is, whether a rate may have risen.
    #[inline(always)]
    pub(crate) fn record(&self, failed: bool, slow: bool, now: impl FnOnce() -> Nanos) -> bool {
        match self.span {
            Span::Calls { block } => {
                let calls = self.cells.add(failed, slow);
                calls >= block && self.roll_count(block)
            }
            Span::Time { bucket } => {
                let index = now().as_u64() / bucket;
                let rolled =
                    index > self.roll.current.load(Ordering::Relaxed) && self.roll_time(index);
                self.cells.add(failed, slow);
                rolled
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn roll_count(&self, block: u64) -> bool {
        if !self.try_lock() {
            return false;
        }
        let mut bad = false;
        // A sweep may have harvested this cell since we looked.
        let due = self.cells.calls_here() >= block;
        if due {
            let index = self.roll.current.load(Ordering::Relaxed);
            let sweep = (index + 1) % self.ring.len() as u64 == 0;
            let counts = if sweep {
                self.cells.harvest()
            } else {
                self.cells.harvest_here()
            };
            self.store_block(index, counts);
            self.roll.current.store(index + 1, Ordering::Relaxed);
            bad = self.holds_bad(index + 1);
        }
        self.unlock();
        due && bad
    }

    #[cold]
    #[inline(never)]
    fn roll_time(&self, index: u64) -> bool {
        if !self.try_lock() {
            return false;
        }
        let current = self.roll.current.load(Ordering::Relaxed);
        let due = index > current && {
            let counts = self.cells.harvest();
            self.store_block(current, counts);
            self.roll.current.store(index, Ordering::Relaxed);
            self.holds_bad(index)
        };
        self.unlock();
        due
    }

    /// Whether the window that ends before block `current` still holds the
    /// newest block with a failure or slow call. Called under `rolling`.
    fn holds_bad(&self, current: u64) -> bool {
        let last = self.roll.last_bad.load(Ordering::Relaxed);
        last != EMPTY && last + self.ring.len() as u64 >= current
    }

    fn store_block(&self, index: u64, counts: Counts) {
        let len = self.ring.len() as u64;
        let slot = if len.is_power_of_two() {
            &self.ring[(index & (len - 1)) as usize]
        } else {
            &self.ring[(index % len) as usize]
        };
        slot.calls.store(counts.calls, Ordering::Relaxed);
        slot.failures.store(counts.failures, Ordering::Relaxed);
        slot.slow.store(counts.slow, Ordering::Relaxed);
        slot.tag.store(index, Ordering::Relaxed);
        if counts.failures != 0 || counts.slow != 0 {
            self.roll.last_bad.store(index, Ordering::Relaxed);
        }
    }

    /// The counts in the window as of `now` (read only by a time window).
    pub(crate) fn totals(&self, now: impl FnOnce() -> Nanos) -> Counts {
        let current = self.roll.current.load(Ordering::Relaxed);
        let index = match self.span {
            Span::Calls { .. } => current,
            Span::Time { bucket } => (now().as_u64() / bucket).max(current),
        };
        let oldest = index.saturating_sub(self.ring.len() as u64);
        let mut total = Counts::default();
        for slot in self.ring.iter() {
            let tag = slot.tag.load(Ordering::Relaxed);
            if tag != EMPTY && tag >= oldest && tag < index {
                total += Counts {
                    calls: slot.calls.load(Ordering::Relaxed),
                    failures: slot.failures.load(Ordering::Relaxed),
                    slow: slot.slow.load(Ordering::Relaxed),
                };
            }
        }
        if current >= oldest {
            total += self.cells.peek();
        }
        total
    }

    /// Forgets every outcome (the breaker is closing afresh).
    pub(crate) fn reset(&self, now: Nanos) {
        while !self.try_lock() {
            spin_loop();
        }
        self.cells.harvest();
        for slot in self.ring.iter() {
            slot.tag.store(EMPTY, Ordering::Relaxed);
        }
        self.roll.last_bad.store(EMPTY, Ordering::Relaxed);
        match self.span {
            Span::Calls { .. } => self.roll.current.store(0, Ordering::Relaxed),
            Span::Time { bucket } => self
                .roll
                .current
                .store(now.as_u64() / bucket, Ordering::Relaxed),
        }
        self.unlock();
    }

    fn try_lock(&self) -> bool {
        self.roll
            .rolling
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    fn unlock(&self) {
        self.roll.rolling.store(false, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use core::time::Duration;

    fn none() -> Nanos {
        unreachable!("a count window never reads the clock")
    }

    #[test]
    fn count_window_rolls_every_block_and_forgets_the_oldest() {
        // 4 calls: 4 blocks of 1; window = 4 completed + current.
        let w = Window::new(WindowKind::Count { calls: 4 });
        assert!(
            w.record(true, false, none),
            "a block of one completes at once"
        );
        for _ in 0..4 {
            w.record(false, false, none);
        }
        let t = w.totals(none);
        assert_eq!((t.calls, t.failures), (4, 0), "the failure aged out");
    }

    #[test]
    fn count_window_counts_the_current_block() {
        let w = Window::new(WindowKind::Count { calls: 100 });
        for i in 0..25 {
            let rolled = w.record(i % 5 == 0, i % 2 == 0, none);
            assert_eq!(rolled, i % 13 == 12, "call {i}: blocks of 13");
        }
        let t = w.totals(none);
        assert_eq!((t.calls, t.failures, t.slow), (25, 5, 13));
    }

    #[test]
    fn a_roll_asks_for_evaluation_only_while_a_failure_is_in_the_window() {
        // 8 blocks of 1 call each.
        let w = Window::new(WindowKind::Count { calls: 8 });
        assert!(!w.record(false, false, none), "successes alone");
        assert!(w.record(true, false, none), "the block with the failure");
        // The window is the 8 completed blocks: 7 more keep the failure in.
        for i in 0..7 {
            assert!(w.record(false, false, none), "failure still in: {i}");
        }
        assert!(!w.record(false, false, none), "the failure aged out");
        assert!(w.record(false, true, none), "a slow call counts too");
        w.reset(Nanos::ZERO);
        assert!(!w.record(false, false, none), "reset forgets it");
    }

    #[test]
    fn a_stopped_threads_leftover_calls_age_out_through_a_sweep() {
        let w = std::sync::Arc::new(Window::new(WindowKind::Count { calls: 100 }));
        // A thread records 12 failures (below a block of 13) and stops.
        let w2 = std::sync::Arc::clone(&w);
        std::thread::spawn(move || {
            for _ in 0..12 {
                w2.record(true, false, none);
            }
        })
        .join()
        .unwrap();
        assert_eq!(w.totals(none).failures, 12, "counted while they are recent");
        // Successes from another thread: within one window a sweep moves
        // the leftovers into the ring, from which they age out one window
        // later (3 windows of calls cover both).
        for _ in 0..300 {
            w.record(false, false, none);
        }
        let t = w.totals(none);
        assert_eq!(t.failures, 0, "leftover failures lingered");
        assert!((100..=112).contains(&t.calls), "{} calls", t.calls);
    }

    #[test]
    fn concurrent_threads_keep_the_window_near_n_calls() {
        let w = std::sync::Arc::new(Window::new(WindowKind::Count { calls: 100 }));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let w = std::sync::Arc::clone(&w);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        w.record(false, false, none);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        // 8 blocks of 13, plus fewer than 13 unrolled calls per thread.
        let calls = w.totals(none).calls;
        assert!((104..104 + 2 * 13).contains(&calls), "{calls} calls");
    }

    #[test]
    fn time_window_expires_old_buckets() {
        let span = Duration::from_secs(10);
        let w = Window::new(WindowKind::Time { span, buckets: 5 });
        let at = |s: u64| move || Nanos::from_duration(Duration::from_secs(s));
        w.record(true, false, at(0));
        assert!(w.record(false, false, at(2)), "entering a new bucket rolls");
        assert_eq!(w.totals(at(2)).calls, 2);
        assert_eq!(
            w.totals(at(11)).calls,
            2,
            "five buckets before the current one"
        );
        assert_eq!(
            w.totals(at(12)).calls,
            1,
            "the first bucket left the window"
        );
        assert_eq!(w.totals(at(14)).calls, 0);
        w.record(true, false, at(60));
        let t = w.totals(at(60));
        assert_eq!((t.calls, t.failures), (1, 1));
    }

    #[test]
    fn reset_forgets_everything() {
        let w = Window::new(WindowKind::Count { calls: 100 });
        for _ in 0..15 {
            w.record(true, false, none);
        }
        w.reset(Nanos::ZERO);
        assert_eq!(w.totals(none), Counts::default());
        assert!(!w.record(false, false, none));
    }
}
