//! The eviction policy: W-TinyLFU with a hill-climbed admission window.
//!
//! # Why this policy
//!
//! Measured on the traces in `../shared/traces` (see `compare hitratio`),
//! neither recency nor frequency alone wins everywhere: on OLTP, loops and
//! scans a frequency filter (TinyLFU) beats LRU by tens of points (LRU scores
//! zero on a loop larger than the cache), while on recency-friendly traces
//! (zigzag, sprite at large capacities) LRU beats every fixed frequency
//! policy. W-TinyLFU with an adaptive window covers both: new entries enter
//! an LRU *window*; an entry pushed out of the window must beat the main
//! space's eviction victim on estimated frequency to be admitted; and a hill
//! climber grows the window when that raises the hit rate (recency pays) and
//! shrinks it when it does not (frequency pays). The figures that chose it
//! are in `benches/src/hitratio.rs` and the README.
//!
//! # Structure
//!
//! ```text
//!  insert ─▶ window (LRU) ──overflow──▶ probation ──hit──▶ protected
//!                                       │    ▲                 │
//!         candidate vs victim (TinyLFU) ┘    └──── overflow ───┘
//! ```
//!
//! - [`sketch`]: frequency estimates (count-min, 4-bit counters, halving);
//! - [`lru`]: the three queues as index-linked lists over one slab;
//! - [`climber`]: the window size search.
//!
//! Entries are known only by their 64-bit key hash; the cache maps hashes to
//! keys and values. Everything is single-threaded: the cache serialises the
//! calls. Nothing here allocates per operation once the slab, the index and
//! the sketch have grown to the cache's size.

mod climber;
mod lru;
mod simulator;
mod sketch;

#[doc(hidden)]
pub use simulator::PolicySimulator;

use alloc::vec::Vec;
use hashbrown::HashTable;

use climber::HillClimber;
use lru::{LruLists, Queue};
use sketch::{FrequencySketch, spread};

/// An entry estimated at least this often is admitted with probability
/// 1/128 even when it loses to the victim, so an attacker who makes a victim
/// look hot cannot pin it in the cache forever.
const ADMIT_ANYWAY_FREQUENCY: u8 = 6;
/// Most entries moved between window and main space per window resize.
const MAX_TRANSFERS: usize = 1000;

/// Decides which entries a bounded cache keeps.
///
/// Weights are `u32`; the capacity is the total weight allowed (entries when
/// every weight is 1). [`Policy::weighted_size`] never exceeds the capacity
/// after a call returns: whatever must go is pushed onto the caller's
/// `evict` vector, which may include the hash being inserted when the
/// admission filter rejects it.
#[derive(Debug)]
pub(crate) struct Policy {
    capacity: u64,
    lists: LruLists,
    index: HashTable<u32>,
    sketch: FrequencySketch,
    climber: HillClimber,
    window_max: u64,
    protected_max: u64,
    /// The cache has been full at least once: from then on the hit rate
    /// reflects the window size and the climber may act.
    filled: bool,
    /// The last hash passed to `record_miss`, so the insert that follows a
    /// miss does not count the key twice.
    last_miss: Option<u64>,
    random: u64,
}

impl Policy {
    /// A policy for a cache of total weight `capacity`. The window starts
    /// at 1% of it and the protected segment at 80% of the rest.
    pub(crate) fn new(capacity: u64) -> Policy {
        let window_max = capacity - capacity / 100 * 99 - (capacity % 100) * 99 / 100;
        Policy {
            capacity,
            lists: LruLists::new(),
            index: HashTable::new(),
            sketch: FrequencySketch::new(capacity),
            climber: HillClimber::new(capacity),
            window_max,
            protected_max: (capacity - window_max) / 5 * 4,
            filled: false,
            last_miss: None,
            random: 0x2545_F491_4F6C_DD1D,
        }
    }

    /// Records a read hit on the resident entry `hash`.
    pub(crate) fn record_access(&mut self, hash: u64) {
        self.sketch.increment(hash);
        self.climber.record_hit();
        if let Some(index) = self.find(hash) {
            match self.lists.node(index).queue {
                Queue::Window => self.lists.move_to_back(index, Queue::Window),
                Queue::Probation => {
                    self.lists.move_to_back(index, Queue::Protected);
                    self.demote_protected_overflow();
                }
                Queue::Protected => self.lists.move_to_back(index, Queue::Protected),
            }
        }
        self.climb();
    }

    /// Records a read of `hash` that found nothing.
    pub(crate) fn record_miss(&mut self, hash: u64) {
        self.sketch.increment(hash);
        self.last_miss = Some(hash);
        self.climber.record_miss();
        self.climb();
    }

    /// Admits the new entry `hash` of `weight` and pushes onto `evict`
    /// every hash the cache must now drop (possibly `hash` itself).
    /// Inserting a hash that is already resident changes its weight.
    pub(crate) fn insert(&mut self, hash: u64, weight: u32, evict: &mut Vec<u64>) {
        if self.find(hash).is_some() {
            return self.update_weight(hash, weight, evict);
        }
        if self.last_miss.take() != Some(hash) {
            self.sketch.increment(hash);
        }
        if u64::from(weight) > self.capacity {
            evict.push(hash);
            return;
        }
        let index = self.lists.push(hash, weight, Queue::Window);
        let lists = &self.lists;
        self.index
            .insert_unique(spread(hash), index, |&i| spread(lists.node(i).hash));
        self.evict_to_fit(evict);
    }

    /// Changes the weight of the resident entry `hash` and pushes onto
    /// `evict` every hash the cache must now drop. Unknown hashes are
    /// ignored.
    pub(crate) fn update_weight(&mut self, hash: u64, weight: u32, evict: &mut Vec<u64>) {
        let Some(index) = self.find(hash) else { return };
        self.lists.set_weight(index, weight);
        if u64::from(weight) > self.capacity {
            self.remove(hash);
            evict.push(hash);
            return;
        }
        if self.lists.node(index).queue == Queue::Protected {
            self.demote_protected_overflow();
        }
        self.evict_to_fit(evict);
    }

    /// Forgets the entry `hash` (removed, expired or invalidated by the
    /// cache). Unknown hashes are ignored.
    pub(crate) fn remove(&mut self, hash: u64) {
        if let Ok(entry) = self
            .index
            .find_entry(spread(hash), |&i| self.lists.node(i).hash == hash)
        {
            let (index, _) = entry.remove();
            self.lists.remove(index);
        }
    }

    /// Total weight of the resident entries.
    pub(crate) fn weighted_size(&self) -> u64 {
        self.lists.weight(Queue::Window)
            + self.lists.weight(Queue::Probation)
            + self.lists.weight(Queue::Protected)
    }

    fn find(&self, hash: u64) -> Option<u32> {
        self.index
            .find(spread(hash), |&i| self.lists.node(i).hash == hash)
            .copied()
    }

    /// Drops the entry at slab `index` and reports it.
    fn evict_index(&mut self, index: u32, evict: &mut Vec<u64>) {
        let hash = self.lists.node(index).hash;
        self.remove(hash);
        evict.push(hash);
    }

    fn demote_protected_overflow(&mut self) {
        while self.lists.weight(Queue::Protected) > self.protected_max {
            let Some(index) = self.lists.front(Queue::Protected) else {
                break;
            };
            self.lists.move_to_back(index, Queue::Probation);
        }
    }

    /// Restores `weighted_size() <= capacity`: the window's overflow moves
    /// to probation as candidates, then each candidate competes with the
    /// probation victim (least recently used) and the less frequent of the
    /// two is evicted, until the cache fits.
    fn evict_to_fit(&mut self, evict: &mut Vec<u64>) {
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
            self.filled = true;
            if candidate.is_none() && !candidates_from_window {
                candidate = self.lists.front(Queue::Window);
                candidates_from_window = true;
            }
            if candidate.is_none() && victim.is_none() {
                // Probation is exhausted: take victims from protected, then
                // from the window.
                victim_queue = match victim_queue {
                    Queue::Probation => Queue::Protected,
                    Queue::Protected => Queue::Window,
                    Queue::Window => break,
                };
                victim = self.lists.front(victim_queue);
                continue;
            }
            match (victim, candidate) {
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
                    if self.admit(self.lists.node(c).hash, self.lists.node(v).hash) {
                        victim = self.lists.next(v);
                        self.evict_index(v, evict);
                    } else {
                        candidate = self.lists.next(c);
                        self.evict_index(c, evict);
                    }
                }
                (None, None) => unreachable!("handled above"),
            }
        }
        if self.weighted_size() == self.capacity {
            self.filled = true;
        }
    }

    /// TinyLFU admission: the candidate replaces the victim if it is
    /// estimated more frequent, or, when it is itself warm, by a 1/128
    /// chance (see [`ADMIT_ANYWAY_FREQUENCY`]).
    fn admit(&mut self, candidate: u64, victim: u64) -> bool {
        let candidate_frequency = self.sketch.frequency(candidate);
        let victim_frequency = self.sketch.frequency(victim);
        if candidate_frequency > victim_frequency {
            return true;
        }
        if candidate_frequency < ADMIT_ANYWAY_FREQUENCY {
            return false;
        }
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        self.random & 127 == 0
    }

    /// Applies the climber's adjustment at the end of each sample.
    fn climb(&mut self) {
        if !self.filled {
            self.climber.restart_sample();
            return;
        }
        match self.climber.adjustment() {
            Some(amount) if amount > 0 => self.grow_window(amount.unsigned_abs()),
            Some(amount) if amount < 0 => self.shrink_window(amount.unsigned_abs()),
            _ => {}
        }
    }

    /// Moves up to `amount` of weight from the protected segment's share
    /// to the window, carrying main-space entries along (least recently
    /// used first) so the window is full at its new size.
    fn grow_window(&mut self, amount: u64) {
        let mut quota = amount.min(self.protected_max);
        self.protected_max -= quota;
        self.window_max += quota;
        self.demote_protected_overflow();
        for _ in 0..MAX_TRANSFERS {
            let Some(index) = self
                .lists
                .front(Queue::Probation)
                .or_else(|| self.lists.front(Queue::Protected))
            else {
                break;
            };
            let weight = u64::from(self.lists.node(index).weight);
            if weight > quota {
                break;
            }
            quota -= weight;
            self.lists.move_to_back(index, Queue::Window);
        }
        self.protected_max += quota;
        self.window_max -= quota;
    }

    /// Moves up to `amount` of weight from the window's share to the
    /// protected segment, carrying the window's oldest entries to probation.
    fn shrink_window(&mut self, amount: u64) {
        let mut quota = amount.min(self.window_max);
        self.protected_max += quota;
        self.window_max -= quota;
        for _ in 0..MAX_TRANSFERS {
            let Some(index) = self.lists.front(Queue::Window) else {
                break;
            };
            let weight = u64::from(self.lists.node(index).weight);
            if weight > quota {
                break;
            }
            quota -= weight;
            self.lists.move_to_back(index, Queue::Probation);
        }
        self.protected_max -= quota;
        self.window_max += quota;
    }

    /// The window's current maximum weight (for tests of the climber).
    #[cfg(test)]
    pub(crate) fn window_max(&self) -> u64 {
        self.window_max
    }
}

#[cfg(test)]
mod tests;
