//! A ring of time slots, each reset by the first writer that needs it.
//!
//! Time is cut into *ticks* of `slot_len`; tick `t` lives in physical slot
//! `t % (live + 1)`. Readers look at the `live` newest ticks; the one extra
//! slot is the *spare*, cleared ahead of time so that writers entering a new
//! tick usually find its slot ready.
//!
//! # Protocol
//!
//! ```text
//! slot.epoch: [ busy: 1 | tick + 1: 63 ]                 0 = never used
//! ring.head:  [ tick + 1: 64 - b | physical index: b ]   never 0
//! ```
//!
//! `head` names the newest tick whose slot is live, and that slot's index
//! (`b` bits, enough for the ring), so the fast path needs no division:
//! `now - head_tick × slot_len < slot_len` says `now` is in the head tick.
//! Ticks are capped at `2^(64 - b) - 2` so they fit; a clock that far from
//! its origin (centuries) keeps writing the last slot.
//!
//! * A slot is **live for tick t** when `epoch == t + 1`. Writers for `t`
//!   `fetch_add` into it; nothing else touches its counters.
//! * A slot is **reset** by whoever wins a compare-and-swap of its epoch from
//!   an older, not-busy value `e` to `(t + 1) | busy`. The winner (after a
//!   release fence) zeroes the payload, then stores `t + 1` (release). Losers
//!   never wait: see below.
//! * The writer that moves `head` forward (`fetch_max`, after its own slot is
//!   live) resets the slot of the *next* tick. That slot holds tick
//!   `t - live`, already outside every reader's window, so the reset races
//!   with nobody who matters and the next tick starts on a clean slot.
//! * A new ring starts with the slot of its creation tick live, the head on
//!   it and the next tick's slot prepared, so there is always a head to
//!   credit (a writer that found the very first reset busy used to have
//!   none and dropped its sample).
//! * Fast path: `now` falls in the head tick → write to the head slot. One
//!   load, one multiply, one compare.
//! * A late writer (`t < head`, e.g. it read the clock before a slower
//!   thread's newer reading moved the head) writes slot `t` if `t` is still
//!   inside the window, resetting it first if no one wrote `t` before (the
//!   slot then holds a tick older than the window).
//!
//! A writer that finds its slot busy (a reset is in progress: only after the
//! ring sat idle for a whole slot, or in the microseconds a spare is being
//! cleared at the start of a tick, unless the resetting thread is preempted
//! mid-reset) does not wait: it credits its sample to the head slot (early,
//! or for a late writer late; it is never lost) when that slot is live and
//! its own tick still inside the window (on either side of the head: while
//! a preempted thread holds one slot busy, writers of later ticks move the
//! head past it), and otherwise drops it and counts
//! it in `dropped`. A
//! writer whose tick is already outside the window (`head - live` or older)
//! drops its sample the same way.
//!
//! # What a reader sees
//!
//! Readers copy a slot seqlock-style: load `epoch` (acquire), copy the
//! counters (relaxed), `fence(acquire)`, load `epoch` again. A busy or
//! changed epoch means the slot was being reset; its copy is discarded, so a
//! half-zeroed slot is never reported (no torn reset). The copy of a slot
//! that writers are adding to is a moment-in-time view, counter by counter.
//!
//! A writer that read `head`, then stalled for longer than the whole window
//! before its `fetch_add`, adds its sample to whatever tick the slot then
//! holds. With real clocks that takes a preemption of a full window span.

use alloc::boxed::Box;
use core::ops::RangeInclusive;

use super::divisor::Divisor;
use crate::sync::{AtomicU64, CachePadded, Ordering, fence};
use crate::time::Nanos;

const BUSY: u64 = 1 << 63;

/// What a ring slot holds.
pub(crate) trait SlotPayload {
    /// Zeroes every counter (called only by the thread that owns the reset).
    fn clear(&self);
}

struct Slot<P> {
    epoch: AtomicU64,
    payload: P,
}

pub(crate) struct Ring<P> {
    head: CachePadded<AtomicU64>,
    slot_len: Divisor,
    slot_nanos: u64,
    ring_len: Divisor,
    index_bits: u32,
    max_tick: u64,
    live: u64,
    dropped: AtomicU64,
    slots: Box<[Slot<P>]>,
}

impl<P: SlotPayload> Ring<P> {
    /// `live` slots of `slot_len` nanoseconds each, plus the spare, with the
    /// slot of `start`'s tick already live and the head on it (and the
    /// spare ready for the tick after): the first
    /// writers find a head to credit while one of them prepares the next
    /// slot, instead of all racing to reset the first one (a writer that
    /// found that reset busy and no head at all had to drop its sample).
    pub(crate) fn new(
        slot_len: u64,
        live: u64,
        start: Nanos,
        mut payload: impl FnMut() -> P,
    ) -> Self {
        let slots = (0..=live)
            .map(|_| Slot {
                epoch: AtomicU64::new(0),
                payload: payload(),
            })
            .collect();
        let index_bits = 64 - live.leading_zeros();
        let ring = Ring {
            head: CachePadded::new(AtomicU64::new(0)),
            slot_len: Divisor::new(slot_len),
            slot_nanos: slot_len,
            ring_len: Divisor::new(live + 1),
            index_bits,
            max_tick: (1u64 << (64 - index_bits)) - 2,
            live,
            dropped: AtomicU64::new(0),
            slots,
        };
        let first = ring.tick(start) + 1;
        let nothing_to_retire = |_: u64, _: &P| {};
        ring.make_live(ring.slot(first - 1), first, &nothing_to_retire);
        ring.head.store(ring.head_word(first), Ordering::Release);
        ring.prepare_next(first, &nothing_to_retire);
        ring
    }

    pub(crate) fn slot_len(&self) -> u64 {
        self.slot_nanos
    }

    /// The tick `now` falls in (capped so that `tick + 1` fits the head).
    #[inline]
    pub(crate) fn tick(&self, now: Nanos) -> u64 {
        self.slot_len.div(now.as_u64()).min(self.max_tick)
    }

    /// The head word for a live tick `want - 1`.
    fn head_word(&self, want: u64) -> u64 {
        (want << self.index_bits) | self.ring_len.rem(want - 1)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn payloads(&self) -> impl Iterator<Item = &P> {
        self.slots.iter().map(|s| &s.payload)
    }

    #[inline]
    fn slot(&self, tick: u64) -> &Slot<P> {
        &self.slots[self.ring_len.rem(tick) as usize]
    }

    /// The payload to record a sample taken at `now` into, or `None` if the
    /// sample had to be dropped. `retire(old_tick, payload)` is called with
    /// a slot's old contents just before they are zeroed.
    #[inline]
    pub(crate) fn writable(&self, now: Nanos, retire: impl Fn(u64, &P)) -> Option<&P> {
        let head = self.head.load(Ordering::Acquire);
        let start = (head >> self.index_bits)
            .wrapping_sub(1)
            .wrapping_mul(self.slot_nanos);
        if now.as_u64().wrapping_sub(start) < self.slot_nanos {
            let index = head & ((1 << self.index_bits) - 1);
            return Some(&self.slots[index as usize].payload);
        }
        self.writable_slow(self.tick(now), retire)
    }

    #[cold]
    fn writable_slow(&self, tick: u64, retire: impl Fn(u64, &P)) -> Option<&P> {
        let want = tick + 1;
        let head = self.head.load(Ordering::Acquire) >> self.index_bits;
        if want < head {
            // A late writer: its tick may still be inside the window (its
            // slot then holds that tick, or one older than the window).
            let slot = self.slot(tick);
            if head - want < self.live {
                if self.make_live(slot, want, &retire) {
                    return Some(&slot.payload);
                }
                // Busy: a reset of this slot stalled (its thread was
                // preempted mid-reset while the head moved on). Credit the
                // newest live slot, as an on-time writer does, rather than
                // lose the sample.
                if let Some(newest) = self.newest_live(head) {
                    return Some(newest);
                }
            }
            return self.drop_sample();
        }
        let slot = self.slot(tick);
        if !self.make_live(slot, want, &retire) {
            // Busy: credit the newest live slot rather than wait for the
            // reset. Re-read the head: the thread resetting our slot may be
            // the one that just moved it (a spare being prepared), or, if
            // that thread was preempted mid-reset, writers of later ticks
            // may have moved it past ours (we are then a late writer).
            let head = self.head.load(Ordering::Acquire) >> self.index_bits;
            if head.abs_diff(want) < self.live {
                if let Some(newest) = self.newest_live(head) {
                    return Some(newest);
                }
            }
            return self.drop_sample();
        }
        let word = self.head_word(want);
        if self.head.fetch_max(word, Ordering::AcqRel) < word {
            self.prepare_next(want, &retire);
        }
        Some(&slot.payload)
    }

    /// After the head moved to epoch `want` (tick `want - 1`): makes the
    /// next tick's slot (the spare) live ahead of time, unless the tick cap
    /// is reached.
    fn prepare_next(&self, want: u64, retire: &impl Fn(u64, &P)) {
        if want < self.max_tick + 1 {
            self.make_live(self.slot(want), want + 1, retire);
        }
    }

    /// The payload of the head tick's slot (`head` as read from the head
    /// word, `tick + 1`), if that slot is live for it: where a writer that
    /// cannot use its own slot credits its sample.
    fn newest_live(&self, head: u64) -> Option<&P> {
        let newest = self.slot(head - 1);
        (newest.epoch.load(Ordering::Acquire) == head).then_some(&newest.payload)
    }

    fn drop_sample(&self) -> Option<&P> {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Makes `slot` live for epoch `want`, resetting it if we win the CAS.
    /// False if another thread is resetting it or it holds a newer tick.
    fn make_live(&self, slot: &Slot<P>, want: u64, retire: &impl Fn(u64, &P)) -> bool {
        let mut seen = slot.epoch.load(Ordering::Acquire);
        loop {
            if seen == want {
                return true;
            }
            if seen & BUSY != 0 || seen > want {
                return false;
            }
            // AcqRel: a writer that then sees `busy` also sees the head this
            // thread moved before preparing a spare.
            match slot.epoch.compare_exchange(
                seen,
                want | BUSY,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // Readers that copy any zero below also see `busy`.
                    fence(Ordering::Release);
                    if seen != 0 {
                        retire(seen - 1, &slot.payload);
                    }
                    slot.payload.clear();
                    slot.epoch.store(want, Ordering::Release);
                    return true;
                }
                Err(now) => seen = now,
            }
        }
    }

    /// Copies every stable slot whose tick is in `ticks` with `copy`, and
    /// hands the copies that were not torn by a reset to `keep`.
    pub(crate) fn read<T>(
        &self,
        ticks: RangeInclusive<u64>,
        mut copy: impl FnMut(&P) -> T,
        mut keep: impl FnMut(u64, T),
    ) {
        for slot in self.slots.iter() {
            let before = slot.epoch.load(Ordering::Acquire);
            if before == 0 || before & BUSY != 0 || !ticks.contains(&(before - 1)) {
                continue;
            }
            let copied = copy(&slot.payload);
            fence(Ordering::Acquire);
            if slot.epoch.load(Ordering::Relaxed) == before {
                keep(before - 1, copied);
            }
        }
    }

    /// Ticks a reader at `now` considers: the `live` newest, `now`'s included.
    pub(crate) fn live_ticks(&self, now: Nanos) -> RangeInclusive<u64> {
        let newest = self.tick(now);
        newest.saturating_sub(self.live - 1)..=newest
    }
}

impl<P> core::fmt::Debug for Ring<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ring")
            .field("slot_len", &self.slot_len.get())
            .field("live", &self.live)
            .field("head", &self.head.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    struct Count(AtomicU64);

    impl SlotPayload for Count {
        fn clear(&self) {
            self.0.store(0, Ordering::Relaxed);
        }
    }

    fn record(ring: &Ring<Count>, at: u64) -> bool {
        match ring.writable(Nanos::new(at), |_, _| {}) {
            Some(count) => {
                count.0.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    fn total(ring: &Ring<Count>) -> u64 {
        ring.payloads().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }

    #[test]
    fn a_late_writer_whose_slot_reset_stalled_is_credited_not_dropped() {
        // Slots of 10 ns, 4 live. Tick 0 is written, which prepares slot 1
        // for tick 1; then that reset is made to look stalled (a thread
        // preempted between its compare-and-swap and its final store).
        let ring = Ring::new(10, 4, Nanos::ZERO, || Count(AtomicU64::new(0)));
        assert!(record(&ring, 5));
        ring.slot(1).epoch.store(2 | BUSY, Ordering::Release);
        // An on-time writer of tick 1 credits the head slot (tick 0).
        assert!(record(&ring, 15));
        // Tick 2 moves the head past tick 1.
        assert!(record(&ring, 25));
        // A late writer of tick 1, inside the window, finds its slot still
        // busy: it is credited to the newest slot, not dropped.
        assert!(record(&ring, 19));
        assert_eq!(ring.dropped(), 0);
        assert_eq!(total(&ring), 4);
    }
}
