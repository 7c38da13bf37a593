//! One batch: its keys, the callers waiting on each key, its leader.
//!
//! A batch moves through these phases (all under the loader's lock):
//!
//! ```text
//! Filling --(full, or leader's tick over)--> Loading --(call returns)--> Done
//!    |                                          |
//!    '--(full before the leader looks)--> Closed <--(leader dropped mid-call)
//!                                           '--(a new leader starts the call)--> Loading
//! ```
//!
//! * `Filling`: the loader's open batch; new keys join it.
//! * `Closed`: no new keys; waiting for its leader to call the batch
//!   function (at once, no more yielding).
//! * `Loading`: the leader's future owns the running batch call.
//! * `Done`: every sent key has its result; each waiter takes its own.
//!
//! The leader is one of the waiters (a slot). Only the leader's future runs
//! the batch call; when it is dropped another waiting slot is promoted and
//! woken. When the last waiter leaves before `Done`, the batch is cancelled.

use alloc::vec::Vec;
use core::task::Waker;

use super::LoadResult;

/// How many keys and callers a batch had: the previous batch's sizes are
/// the next one's first allocation, so a loader whose batches hold a
/// hundred keys does not grow two vectors seven times per batch.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BatchSizes {
    pub(crate) keys: usize,
    pub(crate) callers: usize,
}

/// Where a batch is in its life; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Filling,
    Closed,
    Loading,
    Done,
}

/// One distinct key of a batch.
#[derive(Debug)]
pub(crate) struct Entry<K, V, E> {
    pub(crate) key: K,
    /// Callers still waiting on this key.
    pub(crate) waiters: usize,
    /// Whether the key is still part of the batch: an entry whose callers all
    /// left before the call is dropped from it (and from the in-flight map).
    pub(crate) sent: bool,
    pub(crate) result: Option<LoadResult<V, E>>,
}

/// One caller's place in a batch.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) entry: usize,
    /// `None` once the caller has left (took its result or was dropped).
    pub(crate) waker: Option<Option<Waker>>,
}

#[derive(Debug)]
pub(crate) struct Batch<K, V, E> {
    pub(crate) phase: Phase,
    pub(crate) entries: Vec<Entry<K, V, E>>,
    pub(crate) slots: Vec<Slot>,
    /// Slots that have not left.
    pub(crate) live: usize,
    pub(crate) leader: Option<usize>,
    /// The batch call was started before and its leader dropped mid-call.
    pub(crate) restarted: bool,
    /// The cache's clear count when the call started: a clear since then
    /// keeps the results out of the cache.
    pub(crate) cache_clears: u64,
    /// A batch call (a batch function that loads) awaits one of its keys:
    /// the batch must not hold for an earlier partial call, which may be
    /// that very call.
    pub(crate) awaited_by_call: bool,
}

impl<K, V: Clone, E> Batch<K, V, E> {
    /// An empty batch with room for `sizes` (keys, callers) before its
    /// vectors grow.
    pub(crate) fn with_capacity(sizes: BatchSizes) -> Self {
        Batch {
            phase: Phase::Filling,
            entries: Vec::with_capacity(sizes.keys),
            slots: Vec::with_capacity(sizes.callers),
            live: 0,
            leader: None,
            restarted: false,
            cache_clears: 0,
            awaited_by_call: false,
        }
    }

    /// Adds a key; returns its entry index.
    pub(crate) fn add_entry(&mut self, key: K) -> usize {
        self.entries.push(Entry {
            key,
            waiters: 0,
            sent: true,
            result: None,
        });
        self.entries.len() - 1
    }

    /// Adds a caller waiting on `entry`; the first caller leads.
    pub(crate) fn add_waiter(&mut self, entry: usize) -> usize {
        self.entries[entry].waiters += 1;
        self.live += 1;
        self.slots.push(Slot {
            entry,
            waker: Some(None),
        });
        let slot = self.slots.len() - 1;
        if self.leader.is_none() {
            self.leader = Some(slot);
        }
        slot
    }

    /// Remembers `waker` for `slot` (cloned only if it changed).
    pub(crate) fn register(&mut self, slot: usize, waker: &Waker) {
        if let Some(stored) = &mut self.slots[slot].waker {
            match stored {
                Some(w) if w.will_wake(waker) => {}
                _ => *stored = Some(waker.clone()),
            }
        }
    }

    /// The leader's waker, to tell it the batch closed early.
    pub(crate) fn leader_waker(&mut self) -> Option<Waker> {
        let slot = self.leader?;
        self.slots[slot].waker.as_mut()?.take()
    }

    /// Drops the leader's waker (it is running the batch call).
    pub(crate) fn forget_leader_waker(&mut self) {
        drop(self.leader_waker());
    }

    /// Removes `slot` from the batch. Returns the waker of a newly promoted
    /// leader, if the leaving slot led and someone else still waits.
    pub(crate) fn leave(&mut self, slot: usize) -> Option<Waker> {
        let entry = self.slots[slot].entry;
        self.slots[slot].waker = None;
        self.live -= 1;
        self.entries[entry].waiters -= 1;
        if self.leader != Some(slot) {
            return None;
        }
        self.leader = None;
        if self.phase == Phase::Loading {
            // The call died with the leader's future; the next leader re-sends.
            self.phase = Phase::Closed;
            self.restarted = true;
        }
        let next = self.slots.iter().position(|s| s.waker.is_some())?;
        self.leader = Some(next);
        self.slots[next].waker.as_mut().and_then(Option::take)
    }

    /// Takes `slot`'s result once the batch is done, leaving the batch.
    /// The last waiter of a key gets the result by move, others a clone.
    /// The slot leaves only once its result is in hand: if cloning the value
    /// panics, the slot is still there for the caller's drop to leave.
    pub(crate) fn take_result(&mut self, slot: usize) -> LoadResult<V, E> {
        let index = self.slots[slot].entry;
        let entry = &mut self.entries[index];
        let result = if entry.waiters == 1 {
            entry.result.take()
        } else {
            entry.result.as_ref().map(clone_result)
        };
        entry.waiters -= 1;
        self.slots[slot].waker = None;
        self.live -= 1;
        result.expect("a done batch has a result for every sent key")
    }

    /// Every waiting caller's waker, to announce the results.
    pub(crate) fn take_wakers(&mut self) -> Vec<Waker> {
        self.slots
            .iter_mut()
            .filter_map(|s| s.waker.as_mut().and_then(Option::take))
            .collect()
    }
}

fn clone_result<V: Clone, E>(r: &LoadResult<V, E>) -> LoadResult<V, E> {
    match r {
        Ok(v) => Ok(v.clone()),
        Err(e) => Err(e.clone()),
    }
}
