//! The closed state's recent outcomes: a count window or a time window.
//!
//! Both are a ring of `K` completed blocks plus the block being filled. The
//! block being filled lives in thread-striped cells ([`stripes`]), so
//! recording is one relaxed `fetch_add` on the thread's own cache line; no
//! lock, no allocation.
//!
//! * **Count window** of `N` calls: `K` blocks of `B` calls, `K` the
//!   fewest of 8 to 64 that divide `N` (`K = N`, `B = 1` up to 8 calls;
//!   `K = 8`, `B = ceil(N / 8)` when none divides), so `K · B = N` as a
//!   rule and `B ≤ N / 8` (see `count_blocks`). A block completes when
//!   the recording thread's own cell reaches `B` calls: that cell alone becomes the block, so a
//!   roll touches no other thread's cache line and, under concurrency,
//!   blocks are runs of `B` calls of one thread each. Every `K`-th roll
//!   instead takes every cell (a sweep), so calls left in the cell of a
//!   thread that stopped recording age into the ring within one window
//!   instead of lingering. The window's rate is then over the last `K`
//!   blocks plus what the cells hold: `N` calls plus, per active thread,
//!   fewer than `B` not yet rolled.
//! * **Quiet count window**: once the ring is full and no block in it
//!   holds a failure, a slow call or more than `B` calls, a roll of a clean
//!   cell publishes nothing (it would replace a run of successes with
//!   another, leaving the counts as they were); the cell is emptied in
//!   place. Every 8th such roll of a cell also takes the cells that have not
//!   moved since that cell's previous look (threads that stopped), so their
//!   leftovers still age out within about two windows. Two threads
//!   recording successes then write no shared cache line: at 2 threads the
//!   closed path went from 11–12 ns to 6.6–7.6 ns per call on the 2-vCPU VM
//!   (`compare breaker`, full runs). A quiet roll racing a roll that
//!   publishes a failure is settled by a SeqCst fence pair
//!   (`Window::roll_quietly`).
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
use crate::sync::{AtomicBool, AtomicU64, CachePadded, Ordering, fence, spin_loop};
use crate::time::Nanos;

/// Outcome counts of a block or of the whole window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Counts {
    /// No failure and no slow call: such a block can trip nothing.
    fn is_clean(&self) -> bool {
        self.failures == 0 && self.slow == 0
    }
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

/// A count window has at least this many blocks (unless it counts fewer
/// calls), so a block, and the partly filled one a thread adds, is at most
/// an eighth of the window.
const MIN_BLOCKS: u32 = 8;
/// ...and at most this many.
const MAX_BLOCKS: u32 = 64;

/// The block count and block size of a window of `calls` calls: the fewest
/// blocks from `MIN_BLOCKS` to `MAX_BLOCKS` that divide `calls`, so the
/// completed blocks hold exactly `calls`; when none does (a prime above
/// 64, say), `MIN_BLOCKS` blocks of `ceil(calls / 8)`, up to 7 more.
fn count_blocks(calls: u32) -> (u64, u64) {
    let calls = calls.max(1);
    if calls <= MIN_BLOCKS {
        return (u64::from(calls), 1);
    }
    match (MIN_BLOCKS..=MAX_BLOCKS).find(|k| calls % k == 0) {
        Some(blocks) => (u64::from(blocks), u64::from(calls / blocks)),
        None => (u64::from(MIN_BLOCKS), u64::from(calls.div_ceil(MIN_BLOCKS))),
    }
}

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
    /// Index of the newest completed block of a count window that holds
    /// more than a block's worth of calls (a roll that lost the flag for a
    /// while, or a sweep); `EMPTY`: none. A quiet window stops rolling, so
    /// it waits until such a block has aged out: the window's call count
    /// then stays within `N` plus what the cells hold.
    last_fat: AtomicU64,
}

impl Window {
    pub(crate) fn new(kind: WindowKind) -> Self {
        let (span, blocks) = match kind {
            WindowKind::Count { calls } => {
                let (blocks, block) = count_blocks(calls);
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
                last_fat: AtomicU64::new(EMPTY),
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
        if self.is_quiet() {
            if let Some(rolled) = self.roll_quietly(block) {
                return rolled;
            }
        }
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
            bad = self.append_block(counts);
        }
        self.unlock();
        due && bad
    }

    /// Whether the count window is full and holds only clean blocks: every
    /// ring slot has been written since the last reset and the newest block
    /// with a failure or slow call has aged out.
    fn is_quiet(&self) -> bool {
        let current = self.roll.current.load(Ordering::Relaxed);
        current >= self.ring.len() as u64
            && !self.in_window(&self.roll.last_bad, current)
            && !self.in_window(&self.roll.last_fat, current)
    }

    /// A roll of a quiet window that publishes nothing, or `None` when this
    /// thread's cell holds a failure or slow call (then the caller rolls it
    /// the usual way).
    ///
    /// Rolling a clean block into a ring of clean blocks replaces one run of
    /// successes with another: the window's counts stay what they were. So
    /// the cell is just emptied, and no line another thread reads is written.
    /// Every 8th such roll of a cell also sweeps the cells that have not
    /// moved since that cell's previous sweep (`Stripes::harvest_idle`): the
    /// leftovers of a thread that stopped recording are dropped if clean, or
    /// published as a block (under the roll lock) if they hold a failure or
    /// slow call, from which they age out as usual. Cells of threads still
    /// recording are only read, never written, so two threads recording at
    /// once pass no cache line back and forth beyond those reads.
    /// Another thread's roll may make the window un-quiet meanwhile; the
    /// dropped successes then stand for the older clean block that stays in
    /// the ring instead of being replaced, with the same counts.
    fn roll_quietly(&self, block: u64) -> Option<bool> {
        let mine = self.cells.peek_here();
        if mine.calls < block {
            return Some(false); // a sweep took this cell since we looked
        }
        if !mine.is_clean() {
            return None;
        }
        let taken = self.cells.harvest_here();
        let swept = if self.cells.count_quiet_roll_here() {
            self.cells.harvest_idle()
        } else {
            Counts::default()
        };
        let all = taken + swept;
        if all.is_clean() {
            // A concurrent roll may have published a failure since the
            // window looked quiet; its evaluation may then have counted the
            // calls just taken, and without them the rate is higher. Look
            // again (the fence pairs with the one in `roll_count`: either
            // this look sees that roll, or its evaluation saw the emptied
            // cell) and ask for an evaluation if the window is no longer
            // quiet.
            fence(Ordering::SeqCst);
            return Some(!self.is_quiet());
        }
        // A thread sharing this cell, or a stopped one, left bad outcomes.
        while !self.try_lock() {
            spin_loop();
        }
        let bad = self.append_block(all);
        self.unlock();
        Some(bad)
    }

    /// Stores `counts` as the next block of a count window and advances
    /// `current`; returns whether the window now holds a bad block (the
    /// caller then asks for an evaluation). Called under `rolling`.
    fn append_block(&self, counts: Counts) -> bool {
        let index = self.roll.current.load(Ordering::Relaxed);
        self.store_block(index, counts);
        self.roll.current.store(index + 1, Ordering::Relaxed);
        let bad = self.holds_bad(index + 1);
        if bad {
            // Before the evaluation sums the cells: pairs with the fence of
            // a quiet roll (`roll_quietly`).
            fence(Ordering::SeqCst);
        }
        bad
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
        self.in_window(&self.roll.last_bad, current)
    }

    /// Whether the block whose index `last` holds (`EMPTY`: none) is still
    /// in the window that ends before block `current`.
    fn in_window(&self, last: &AtomicU64, current: u64) -> bool {
        let last = last.load(Ordering::Relaxed);
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
        if let Span::Calls { block } = self.span {
            if counts.calls > block {
                self.roll.last_fat.store(index, Ordering::Relaxed);
            }
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
        self.roll.last_fat.store(EMPTY, Ordering::Relaxed);
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
        let w = Window::new(WindowKind::Count { calls: 104 });
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

    /// Records `failures` failures from a thread that then ends.
    fn fail_on_another_thread(w: &std::sync::Arc<Window>, failures: usize) {
        let w = std::sync::Arc::clone(w);
        std::thread::spawn(move || {
            for _ in 0..failures {
                w.record(true, false, none);
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_stopped_threads_leftover_calls_age_out_through_a_sweep() {
        let w = std::sync::Arc::new(Window::new(WindowKind::Count { calls: 104 }));
        // A thread records 12 failures (below a block of 13) and stops.
        fail_on_another_thread(&w, 12);
        assert_eq!(w.totals(none).failures, 12, "counted while they are recent");
        // Successes from another thread: within one window a sweep moves
        // the leftovers into the ring, from which they age out one window
        // later (3 windows of calls cover both).
        for _ in 0..300 {
            w.record(false, false, none);
        }
        let t = w.totals(none);
        assert_eq!(t.failures, 0, "leftover failures lingered");
        assert!((104..=116).contains(&t.calls), "{} calls", t.calls);
    }

    #[test]
    fn a_quiet_window_still_ages_out_a_stopped_threads_failures() {
        let w = std::sync::Arc::new(Window::new(WindowKind::Count { calls: 104 }));
        // Three windows of successes: the ring is full and clean (quiet), so
        // rolls are local and publish nothing.
        for _ in 0..300 {
            assert!(!w.record(false, false, none));
        }
        let before = w.totals(none);
        assert_eq!(before.failures, 0);
        fail_on_another_thread(&w, 12);
        let mut rolled_with_failures = false;
        for i in 0..400 {
            rolled_with_failures |= w.record(false, false, none);
            let t = w.totals(none);
            if i < 100 {
                assert_eq!(t.failures, 12, "call {i}: recent failures are counted");
            }
            // 8 blocks of 13, plus under 13 in each of the two cells.
            assert!(t.calls <= 104 + 2 * 12, "call {i}: {} calls", t.calls);
        }
        assert!(
            rolled_with_failures,
            "publishing them asked for an evaluation"
        );
        assert_eq!(w.totals(none).failures, 0, "the failures lingered");
    }

    #[test]
    fn a_quiet_window_publishes_a_failure_at_its_block_end() {
        let w = Window::new(WindowKind::Count { calls: 104 });
        for _ in 0..300 {
            w.record(false, false, none);
        }
        // Blocks are 13 calls; 300 = 23 * 13 + 1, so the cell holds one.
        w.record(true, false, none);
        let mut rolled = false;
        for _ in 0..10 {
            rolled |= w.record(false, false, none);
        }
        assert!(!rolled, "the block is not complete yet");
        assert!(w.record(false, false, none), "its roll asks for evaluation");
        assert_eq!(w.totals(none).failures, 1);
        for _ in 0..8 * 13 {
            w.record(false, false, none);
        }
        assert_eq!(w.totals(none).failures, 0, "aged out after 8 blocks");
    }

    #[test]
    fn concurrent_threads_keep_the_window_near_n_calls() {
        let w = std::sync::Arc::new(Window::new(WindowKind::Count { calls: 104 }));
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
        let w = Window::new(WindowKind::Count { calls: 104 });
        for _ in 0..15 {
            w.record(true, false, none);
        }
        w.reset(Nanos::ZERO);
        assert_eq!(w.totals(none), Counts::default());
        assert!(!w.record(false, false, none));
    }
}

#[cfg(all(test, not(loom)))]
mod block_tests {
    use super::count_blocks;

    #[test]
    fn blocks_divide_the_window_when_they_can() {
        assert_eq!(count_blocks(1), (1, 1));
        assert_eq!(count_blocks(8), (8, 1));
        assert_eq!(count_blocks(10), (10, 1));
        assert_eq!(count_blocks(100), (10, 10));
        assert_eq!(count_blocks(104), (8, 13));
        assert_eq!(count_blocks(1000), (8, 125));
        // 67 is prime: 8 blocks of 9 (72 calls).
        assert_eq!(count_blocks(67), (8, 9));
        for calls in 1..=2000u32 {
            let (blocks, block) = count_blocks(calls);
            assert!(blocks * block >= u64::from(calls));
            assert!(
                block == 1 || block <= u64::from(calls).div_ceil(8),
                "{calls}: blocks of {block}"
            );
        }
    }
}
