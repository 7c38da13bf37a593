//! The W-TinyLFU mechanics at a given window size: an LRU admission window,
//! a segmented LRU main space (probation and protected), and a TinyLFU
//! filter deciding which of the window's overflow may enter the main space.
//!
//! ```text
//!  insert ─▶ window (LRU) ──overflow──▶ probation ──hit──▶ protected
//!                                       │    ▲                 │
//!         candidate vs victim (TinyLFU) ┘    └──── overflow ───┘
//! ```
//!
//! [`Segments`] does not choose its window size; [`super::Policy`] does,
//! from the miniature simulations in [`super::tuner`]. The same type runs
//! the real policy and each simulation.

use super::nodes::{Nodes, Queue};
use super::sketch::FrequencySketch;
use alloc::vec::Vec;

/// Most entries moved between window and main space per window resize.
const MAX_TRANSFERS: usize = 1000;
/// Most entries demoted from protected to probation per call. A reshape
/// that shrinks or removes the protected segment leaves an overflow of up
/// to 80% of the cache; a million-entry cache drains it over several calls
/// (about 100 µs each at most) instead of one pass of milliseconds on some
/// reader's thread under the policy lock. Caches up to 20,000 entries
/// drain in one call: a bound of 1,000 cost the drifting Zipf row at
/// 10,000 entries half a point (the switch to recency came later).
const MAX_DEMOTIONS: usize = 16_384;
/// Every insert also demotes up to this many of what is left over, so an
/// overflow drains even when no probation entry is hit (a scan while only
/// protected entries are read).
const DEMOTIONS_PER_INSERT: usize = 16;

/// Window, probation and protected queues over one table of nodes.
/// The frequency sketch that admission consults is the caller's: the
/// window-size shadows see the same requests, so they share one.
#[derive(Debug)]
pub(super) struct Segments {
    capacity: u64,
    lists: Nodes,
    window_max: u64,
    protected_max: u64,
    /// The lead over its victim, beyond one count, that a candidate needs
    /// (see [`admit`]).
    admission_margin: u8,
}

impl Segments {
    /// Empty segments for total weight `capacity`, the window allowed
    /// `window_max` of it and the protected segment 80% of the rest, or
    /// none of it if not `protected`, with room made for `room` entries up
    /// front (see `Nodes::new`).
    pub(super) fn new(capacity: u64, window_max: u64, protected: bool, room: u64) -> Self {
        let window_max = window_max.min(capacity);
        Segments {
            capacity,
            lists: Nodes::new(capacity, room),
            window_max,
            protected_max: protected_share(capacity, window_max, protected),
            admission_margin: 0,
        }
    }

    /// Sets the lead over its victim, beyond one count, that a candidate
    /// needs: 0 admits on any lead, 1 asks for two counts.
    pub(super) fn set_admission_margin(&mut self, margin: u8) {
        self.admission_margin = margin;
    }

    /// Resident entries.
    pub(super) fn len(&self) -> u64 {
        self.lists.len() as u64
    }

    /// Total weight allowed.
    pub(super) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The window's maximum weight.
    pub(super) fn window_max(&self) -> u64 {
        self.window_max
    }

    /// The weight of `hash` if it is resident.
    pub(super) fn weight_of(&self, hash: u64) -> Option<u32> {
        self.find(hash).map(|index| self.lists.node_weight(index))
    }

    #[cfg(test)]
    pub(super) fn touch(&mut self, hash: u64) -> bool {
        self.touch_spread(hash, super::sketch::spread(hash))
    }

    /// Marks the resident `hash` as just used (the caller counts it): most
    /// recent in the window or protected segment; promoted to protected from
    /// probation. Returns `false` if `hash` is not resident. `mixed` is
    /// `hash` put through `spread`, which the caller computes once for
    /// every table it asks.
    #[inline]
    pub(super) fn touch_spread(&mut self, hash: u64, mixed: u64) -> bool {
        let Some((index, queue)) = self.lists.find_queued(mixed) else {
            return false;
        };
        debug_assert_eq!(self.lists.hash(index), hash, "a node of another hash");
        self.touch_in(index, queue);
        true
    }

    /// Looks `hash` up, as [`touch_at`](Self::touch_at) wants it, and loads
    /// the cache lines that counting and touching it will need (its sketch
    /// block, its node's neighbours). Looking up a batch of reads first
    /// lets their cache misses overlap instead of waiting one at a time.
    /// `mixed` is the hash put through `spread`.
    pub(super) fn warm(&self, mixed: u64, sketch: &FrequencySketch) -> Option<u32> {
        sketch.warm_spread(mixed);
        let index = self.lists.find_spread(mixed)?;
        self.lists.warm_neighbours(index);
        Some(index)
    }

    /// [`touch`](Self::touch) with `hash`'s node index already looked up
    /// ([`find`](Self::find) or [`warm`](Self::warm)), valid as long as no
    /// entry was inserted or removed since; returns the weight of `hash` if
    /// it is resident.
    #[inline]
    pub(super) fn touch_at(&mut self, hash: u64, index: Option<u32>) -> Option<u32> {
        let index = index?;
        debug_assert_eq!(self.lists.hash(index), hash, "stale node index");
        let weight = self.lists.node_weight(index);
        self.touch_in(index, self.lists.queue(index));
        Some(weight)
    }

    /// Marks the resident node at `index`, in `queue`, as just used (see
    /// [`touch_spread`](Self::touch_spread)).
    #[inline(always)]
    fn touch_in(&mut self, index: u32, queue: Queue) {
        match queue {
            // The most recent entry stays where it is.
            queue @ (Queue::Window | Queue::Protected) => {
                self.lists.move_within_to_back(index, queue);
            }
            Queue::Probation => {
                self.lists
                    .move_from_to_back(index, Queue::Probation, Queue::Protected);
                self.demote_protected_overflow(MAX_DEMOTIONS);
            }
        }
    }

    /// Adds the non-resident `hash` of `weight` to the window and pushes
    /// onto `evict` every hash that must go to stay within capacity
    /// (possibly `hash` itself); `sketch` decides admission.
    pub(super) fn insert(
        &mut self,
        hash: u64,
        weight: u32,
        evict: &mut Vec<u64>,
        sketch: &FrequencySketch,
    ) {
        if u64::from(weight) > self.capacity {
            evict.push(hash);
            return;
        }
        self.lists.push(hash, weight, Queue::Window);
        // What a reshape left over its demotion quota drains here too, not
        // only on hits in probation (a scan that hits only protected
        // entries would keep them there for ever).
        self.demote_protected_overflow(DEMOTIONS_PER_INSERT);
        self.evict_to_fit(evict, sketch);
    }

    /// Changes the weight of the resident `hash` and pushes onto `evict`
    /// every hash that must go. Returns `false` if `hash` is not resident.
    pub(super) fn update_weight(
        &mut self,
        hash: u64,
        weight: u32,
        evict: &mut Vec<u64>,
        sketch: &FrequencySketch,
    ) -> bool {
        let Some(index) = self.find(hash) else {
            return false;
        };
        self.lists.set_weight(index, weight);
        if u64::from(weight) > self.capacity {
            self.remove(hash);
            evict.push(hash);
            return true;
        }
        if self.lists.queue(index) == Queue::Protected {
            self.demote_protected_overflow(MAX_DEMOTIONS);
        }
        self.evict_to_fit(evict, sketch);
        true
    }

    /// Forgets `hash` if it is resident.
    pub(super) fn remove(&mut self, hash: u64) {
        if let Some(index) = self.find(hash) {
            self.lists.remove(index);
        }
    }

    /// Total weight of the resident entries.
    pub(super) fn weighted_size(&self) -> u64 {
        self.lists.weight(Queue::Window)
            + self.lists.weight(Queue::Probation)
            + self.lists.weight(Queue::Protected)
    }

    /// The node index of the resident `hash`.
    pub(super) fn find(&self, hash: u64) -> Option<u32> {
        self.lists.find(hash)
    }

    /// Drops the entry at slot `index` and reports it (no other node
    /// moves: the caller's other slots stay valid).
    fn evict_index(&mut self, index: u32, evict: &mut Vec<u64>) {
        evict.push(self.lists.remove(index));
    }

    /// Moves the protected segment's least recently used entries to
    /// probation while it is over its maximum (every entry, even one of
    /// weight 0, when it has none), at most `limit` per call.
    fn demote_protected_overflow(&mut self, limit: usize) {
        for _ in 0..limit {
            let over =
                self.lists.weight(Queue::Protected) > self.protected_max || self.protected_max == 0;
            let Some(index) = self.lists.front(Queue::Protected).filter(|_| over) else {
                break;
            };
            self.lists
                .move_from_to_back(index, Queue::Protected, Queue::Probation);
        }
    }

    /// Restores `weighted_size() <= capacity`: the window's overflow moves
    /// to probation as candidates, then each candidate competes with the
    /// probation victim (least recently used) and the less frequent of the
    /// two is evicted, until the cache fits. When probation runs out,
    /// victims come from protected, then from the window.
    fn evict_to_fit(&mut self, evict: &mut Vec<u64>, sketch: &FrequencySketch) {
        let mut candidate = None;
        while self.lists.weight(Queue::Window) > self.window_max {
            let Some(index) = self.lists.front(Queue::Window) else {
                break;
            };
            self.lists.move_to_back(index, Queue::Probation);
            candidate = candidate.or(Some(index));
        }
        let mut victim = self.lists.front(Queue::Probation);
        let mut victim_queue = Queue::Probation;
        let mut candidates_from_window = false;
        while self.weighted_size() > self.capacity {
            if candidate.is_none() && !candidates_from_window {
                candidate = self.lists.front(Queue::Window);
                candidates_from_window = true;
            }
            match (victim, candidate) {
                (None, None) => {
                    victim_queue = match victim_queue {
                        Queue::Probation => Queue::Protected,
                        Queue::Protected => Queue::Window,
                        Queue::Window => break,
                    };
                    victim = self.lists.front(victim_queue);
                }
                (None, Some(c)) => {
                    candidate = self.lists.next(c);
                    self.evict_index(c, evict);
                }
                (Some(v), None) => {
                    victim = self.lists.next(v);
                    self.evict_index(v, evict);
                }
                (Some(v), Some(c)) if v == c => {
                    victim = self.lists.next(v);
                    candidate = None;
                    self.evict_index(v, evict);
                }
                (Some(v), Some(c)) => {
                    if admit(
                        sketch,
                        self.lists.mixed(c),
                        self.lists.mixed(v),
                        self.admission_margin,
                    ) {
                        victim = self.lists.next(v);
                        self.evict_index(v, evict);
                    } else {
                        candidate = self.lists.next(c);
                        self.evict_index(c, evict);
                    }
                }
            }
        }
    }

    /// Sets the window's maximum weight to `window_max` (at most the
    /// capacity; the protected segment keeps 80% of the rest, or none of it
    /// if not `protected`: every protected entry then returns to probation,
    /// at most [`MAX_DEMOTIONS`] of them per call)
    /// and moves
    /// entries so both sides are full at their new sizes: main-space entries
    /// (probation first, least recently used first) join the window when it
    /// grows, the window's oldest entries go to probation when it shrinks.
    /// At most [`MAX_TRANSFERS`] entries move; eviction evens out the rest.
    pub(super) fn reshape(&mut self, window_max: u64, protected: bool) {
        let window_max = window_max.min(self.capacity);
        let old = self.window_max;
        self.window_max = window_max;
        self.protected_max = protected_share(self.capacity, window_max, protected);
        if window_max > old {
            let mut quota = window_max - old;
            for _ in 0..MAX_TRANSFERS {
                let Some(index) = self
                    .lists
                    .front(Queue::Probation)
                    .or_else(|| self.lists.front(Queue::Protected))
                else {
                    break;
                };
                let weight = u64::from(self.lists.node_weight(index));
                if weight > quota {
                    break;
                }
                quota -= weight;
                self.lists.move_to_back(index, Queue::Window);
            }
        } else {
            let mut quota = old - window_max;
            for _ in 0..MAX_TRANSFERS {
                let Some(index) = self.lists.front(Queue::Window) else {
                    break;
                };
                let weight = u64::from(self.lists.node_weight(index));
                if weight > quota {
                    break;
                }
                quota -= weight;
                self.lists.move_to_back(index, Queue::Probation);
            }
        }
        self.demote_protected_overflow(MAX_DEMOTIONS);
    }
}

/// The protected segment's maximum weight: 80% of the main space, or 0.
fn protected_share(capacity: u64, window_max: u64, protected: bool) -> u64 {
    if protected {
        (capacity - window_max) / 5 * 4
    } else {
        0
    }
}

/// TinyLFU admission: the candidate replaces the victim only if it is
/// estimated more frequent by more than `margin` (0, or 1 in the tuner's
/// strict shape); a tie keeps the resident.
///
/// Caffeine also admits a warm loser one time in 128, against an
/// attacker who aims sketch collisions at a victim to pin it. Here the
/// sketch is indexed by the cache's hash, which is seeded at random per
/// cache, so collisions cannot be aimed; and the random admissions cost
/// loops and scans dearly: on the LIRS `loop` trace at 1,000 entries
/// they took this policy from 98.7% (OPT's 98.71) to 94–96%, on `scan`
/// at 1,500 from 71.7% to 67% (`compare hitratio`, the `policy` column).
/// Both hashes come put through `spread`, as the node table keeps them.
fn admit(sketch: &FrequencySketch, candidate: u64, victim: u64, margin: u8) -> bool {
    sketch.frequency_of_spread(candidate)
        > sketch.frequency_of_spread(victim).saturating_add(margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protected_len(s: &Segments) -> usize {
        core::iter::successors(s.lists.front(Queue::Protected), |&i| s.lists.next(i)).count()
    }

    #[test]
    fn turning_the_protected_segment_off_empties_it() {
        let sketch = FrequencySketch::new(128);
        let mut s = Segments::new(100, 1, true, 100);
        let mut evict = Vec::new();
        for hash in 1..=100u64 {
            s.insert(hash, 1, &mut evict, &sketch);
        }
        for hash in 1..=100u64 {
            s.touch(hash);
        }
        assert!(protected_len(&s) > 50, "hits promoted entries to protected");
        let size = s.weighted_size();
        s.reshape(1, false);
        assert_eq!(protected_len(&s), 0);
        assert_eq!(s.weighted_size(), size, "a reshape only moves entries");
        // A hit on probation still passes through protected, and leaves it.
        s.touch(50);
        assert_eq!(protected_len(&s), 0);
        s.reshape(1, true);
        s.touch(50);
        assert_eq!(protected_len(&s), 1, "protected again once turned on");
    }

    #[test]
    fn an_entry_of_weight_zero_leaves_a_segment_turned_off() {
        let sketch = FrequencySketch::new(16);
        let mut s = Segments::new(0, 0, false, 0);
        let mut evict = Vec::new();
        s.insert(8, 0, &mut evict, &sketch);
        s.touch(8);
        assert_eq!(protected_len(&s), 0);
    }

    #[test]
    fn a_large_overflow_drains_over_several_calls() {
        let capacity = 3 * MAX_DEMOTIONS as u64;
        let sketch = FrequencySketch::new(capacity);
        let mut s = Segments::new(capacity, 0, true, capacity);
        let mut evict = Vec::new();
        for hash in 1..=capacity {
            s.insert(hash, 1, &mut evict, &sketch);
            s.touch(hash);
        }
        let before = protected_len(&s);
        assert!(before > 2 * MAX_DEMOTIONS);
        s.reshape(0, false);
        assert_eq!(
            protected_len(&s),
            before - MAX_DEMOTIONS,
            "one call's worth"
        );
        while protected_len(&s) > 0 {
            let left = protected_len(&s);
            s.touch(capacity + 1); // not resident: no demotion
            s.demote_protected_overflow(MAX_DEMOTIONS);
            assert!(protected_len(&s) < left);
        }
    }

    #[test]
    fn an_overflow_drains_under_a_scan_that_hits_only_protected_entries() {
        let capacity = 100_000u64;
        let mut sketch = FrequencySketch::new(capacity);
        let mut s = Segments::new(capacity, 0, true, capacity);
        let mut evict = Vec::new();
        for hash in 1..=capacity {
            sketch.increment(hash);
            s.insert(hash, 1, &mut evict, &sketch);
            sketch.increment(hash);
            s.touch(hash);
        }
        s.reshape(0, false);
        assert!(protected_len(&s) > 0, "one call did not drain it all");
        // New keys, and hits on a hot set that stays in protected: no hit
        // ever lands in probation.
        for step in 0..1_000_000u64 {
            let key = capacity + 1 + step;
            sketch.increment(key);
            evict.clear();
            s.insert(key, 1, &mut evict, &sketch);
            let hot = capacity - (step % 1000);
            sketch.increment(hot);
            s.touch(hot);
        }
        assert_eq!(protected_len(&s), 0);
        assert_eq!(s.lists.weight(Queue::Protected), 0);
    }
}
