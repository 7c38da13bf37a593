//! The loader-wide table behind one lock: the open batch, every batch not
//! yet fully collected, which batch each in-flight key is in, and the cache.
//!
//! Invariants (hold whenever the lock is free):
//! * `open` names a batch in `Filling`, or is `None`.
//! * If `in_flight[k] == (id, i)`, batch `id` is not `Done` and its entry
//!   `i` has key `k` and is still `sent`; every sent entry of a batch not
//!   `Done` is in the map, except one a `clear` detached while its call was
//!   running (it still answers its callers; new loads of its key start a
//!   new flight). So a key has at most one flight that new loads join.
//! * A batch is in `batches` until its last waiter has left.
//! * `partial_call` names a batch in `Loading` (or `Closed` for a restart)
//!   that was sent before it was full; it is cleared when that batch is done
//!   or cancelled, and then every waker in `after_partial` is woken.

use super::FastMap;
use alloc::vec::Vec;
use core::hash::Hash;
use core::task::Waker;
use hashbrown::hash_map::{Entry as MapEntry, EntryRef};

use super::LoadResult;
use super::batch::{Batch, BatchSizes, Phase};
use super::batch_fn::BatchOutput;
use super::cache::ValueCache;
use super::dispatch::InsideBatchCall;
use super::error::LoadError;
use alloc::sync::Arc;

pub(crate) type BatchId = u64;

/// Where a new load ended up.
pub(crate) enum Enqueued<V> {
    /// Answered from the cache.
    Cached(V),
    /// Waiting in batch `.0` as slot `.1`.
    Waiting(BatchId, usize),
}

/// What a waiting caller should do next.
pub(crate) enum Role<V, E> {
    Lead,
    Done(LoadResult<V, E>),
}

#[derive(Debug)]
pub(crate) struct Table<K, V, E> {
    next_id: BatchId,
    open: Option<BatchId>,
    /// A batch sent before it was full (at the end of its tick or at
    /// `max_wait`) whose call is still running.
    partial_call: Option<BatchId>,
    /// Leaders waiting for `partial_call` to finish.
    after_partial: Vec<Waker>,
    batches: FastMap<BatchId, Batch<K, V, E>>,
    in_flight: FastMap<K, (BatchId, usize)>,
    pub(crate) cache: ValueCache<K, V>,
    /// The sizes of the batch sent last, for the next one's allocation.
    last_sizes: BatchSizes,
}

impl<K: Hash + Eq + Clone, V: Clone, E> Table<K, V, E> {
    pub(crate) fn new(cache: bool) -> Self {
        Table {
            next_id: 0,
            open: None,
            partial_call: None,
            after_partial: Vec::new(),
            batches: FastMap::default(),
            in_flight: FastMap::default(),
            cache: ValueCache::new(cache),
            last_sizes: BatchSizes::default(),
        }
    }

    /// Adds a load of `key`: from the cache, joining the key's flight, or as
    /// a new key of the open batch (opening one if needed). The second value
    /// is a leader to wake because this key filled its batch.
    pub(crate) fn enqueue(
        &mut self,
        key: K,
        max_batch_size: usize,
    ) -> (Enqueued<V>, Option<Waker>) {
        if let Some(value) = self.cache.get(&key) {
            return (Enqueued::Cached(value), None);
        }
        // One probe of the in-flight map: the key either joins its flight or
        // takes the vacant place, which is filled below.
        let vacant = match self.in_flight.entry(key) {
            MapEntry::Occupied(flight) => {
                let (id, entry) = *flight.get();
                let batch = self
                    .batches
                    .get_mut(&id)
                    .expect("in-flight key has a batch");
                let slot = batch.add_waiter(entry);
                return (Enqueued::Waiting(id, slot), mark_if_awaited_by_call(batch));
            }
            MapEntry::Vacant(vacant) => vacant,
        };
        // Cloned before a batch is opened: a panicking clone then leaves
        // no empty batch behind.
        let key = vacant.key().clone();
        let id = match self.open {
            Some(id) => id,
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.batches
                    .insert(id, Batch::with_capacity(self.last_sizes));
                self.open = Some(id);
                id
            }
        };
        let batch = self.batches.get_mut(&id).expect("open batch exists");
        let entry = batch.add_entry(key);
        vacant.insert((id, entry));
        let slot = batch.add_waiter(entry);
        let mut wake = mark_if_awaited_by_call(batch);
        if batch.entries.len() >= max_batch_size {
            batch.phase = Phase::Closed;
            self.open = None;
            wake = wake.or_else(|| batch.leader_waker());
        }
        (Enqueued::Waiting(id, slot), wake)
    }

    /// The phase and the number of keys of batch `id`, for its leader,
    /// whose `waker` is remembered so that a load that fills the batch can
    /// wake it (see `enqueue`): the leader may be parked in a yield of its
    /// own, behind an earlier partial call, or in `max_wait`.
    pub(crate) fn progress(&mut self, id: BatchId, waker: &Waker) -> (Phase, usize) {
        let batch = self
            .batches
            .get_mut(&id)
            .expect("the leader's batch exists");
        if let Some(leader) = batch.leader {
            batch.register(leader, waker);
        }
        (batch.phase, batch.entries.len())
    }

    /// Whether `slot` leads batch `id` now, or has its result; else
    /// remembers `waker`.
    pub(crate) fn poll_role(
        &mut self,
        id: BatchId,
        slot: usize,
        waker: &Waker,
    ) -> Option<Role<V, E>> {
        let batch = self.batches.get_mut(&id).expect("a waiter's batch exists");
        if batch.phase == Phase::Done {
            let result = batch.take_result(slot);
            if batch.live == 0 {
                self.batches.remove(&id);
            }
            return Some(Role::Done(result));
        }
        if batch.leader == Some(slot) {
            return Some(Role::Lead);
        }
        batch.register(slot, waker);
        None
    }

    /// For a load that has just joined batch `id` as `slot` (a batch that is
    /// not `Done`, since a key leaves the in-flight map when its batch is):
    /// whether it leads; if not, remembers `waker`.
    pub(crate) fn register_or_lead(&mut self, id: BatchId, slot: usize, waker: &Waker) -> bool {
        let batch = self.batches.get_mut(&id).expect("a waiter's batch exists");
        debug_assert!(batch.phase != Phase::Done, "a joined batch is not done");
        if batch.leader == Some(slot) {
            return true;
        }
        batch.register(slot, waker);
        false
    }

    /// The leader starts the call: closes the batch, drops keys nobody waits
    /// for any more, and returns the keys to send and whether this re-sends.
    pub(crate) fn begin_call(&mut self, id: BatchId, partial: bool) -> (Vec<K>, bool) {
        if self.open == Some(id) {
            self.open = None;
        }
        if partial {
            self.partial_call = Some(id);
        }
        let batch = self
            .batches
            .get_mut(&id)
            .expect("the leader's batch exists");
        batch.phase = Phase::Loading;
        batch.cache_clears = self.cache.clears();
        self.last_sizes = BatchSizes {
            keys: batch.entries.len(),
            callers: batch.slots.len(),
        };
        // The leader now polls the call itself: the results need not wake it.
        batch.forget_leader_waker();
        let mut keys = Vec::with_capacity(batch.entries.len());
        for (i, entry) in batch.entries.iter_mut().enumerate().filter(|(_, e)| e.sent) {
            if entry.waiters == 0 {
                // Unsent only once off the map: if hashing the key panics,
                // the entry stays sent and a restart takes it off.
                remove_flight(&mut self.in_flight, &entry.key, (id, i));
                entry.sent = false;
            } else {
                keys.push(entry.key.clone());
            }
        }
        (keys, batch.restarted)
    }

    /// Stores the call's results in batch `id` (and the cache), takes its
    /// keys off the in-flight map and returns the wakers of its waiters.
    pub(crate) fn finish_call<O>(&mut self, id: BatchId, outcome: CallOutcome<O, E>) -> Vec<Waker>
    where
        O: BatchOutput<K, V, E>,
    {
        let batch = self
            .batches
            .get_mut(&id)
            .expect("the leader's batch exists");
        let mut outcome = outcome;
        // A clear since the call started may have been for what it read.
        let cacheable = batch.cache_clears == self.cache.clears();
        for (i, entry) in batch.entries.iter_mut().enumerate().filter(|(_, e)| e.sent) {
            remove_flight(&mut self.in_flight, &entry.key, (id, i));
            let result = match &mut outcome {
                CallOutcome::Returned(Ok(output)) => match output.take(&entry.key) {
                    Some(Ok(value)) => {
                        if cacheable {
                            self.cache.store(&entry.key, &value);
                        }
                        Ok(Some(value))
                    }
                    Some(Err(e)) => Err(LoadError::Key(Arc::new(e))),
                    None => Ok(None),
                },
                CallOutcome::Returned(Err(e)) => Err(LoadError::Batch(Arc::clone(e))),
                CallOutcome::Panicked => Err(LoadError::Panicked),
            };
            entry.result = Some(result);
        }
        batch.phase = Phase::Done;
        let mut wakers = batch.take_wakers();
        self.end_partial(id, &mut wakers);
        wakers
    }

    /// Whether batch `id`, its tick over, should keep collecting because an
    /// earlier partial batch is still being loaded; if so `waker` is woken
    /// when that call ends.
    pub(crate) fn wait_for_partial(&mut self, id: BatchId, waker: &Waker) -> bool {
        let awaited = self.batches.get(&id).is_some_and(|b| b.awaited_by_call);
        match self.partial_call {
            Some(other) if other != id && !awaited => {
                if !self.after_partial.iter().any(|w| w.will_wake(waker)) {
                    self.after_partial.push(waker.clone());
                }
                true
            }
            _ => false,
        }
    }

    fn end_partial(&mut self, id: BatchId, wakers: &mut Vec<Waker>) {
        if self.partial_call == Some(id) {
            self.partial_call = None;
            wakers.append(&mut self.after_partial);
        }
    }

    /// `slot` leaves batch `id` without its result (its future was dropped).
    /// Returns wakers to call (a promoted leader, or leaders that waited for
    /// this batch's partial call) and whether the batch was cancelled
    /// because nobody is left.
    pub(crate) fn leave(&mut self, id: BatchId, slot: usize) -> (Vec<Waker>, bool) {
        let batch = self.batches.get_mut(&id).expect("a waiter's batch exists");
        let wake = batch.leave(slot);
        if batch.live > 0 {
            return (wake.into_iter().collect(), false);
        }
        let cancelled = batch.phase != Phase::Done;
        self.batches.remove(&id);
        if cancelled {
            if self.open == Some(id) {
                self.open = None;
            }
            // Its keys leave the map by a walk that hashes nothing, so a
            // key whose `Hash` panics cannot leave the table half updated
            // (an open batch that no longer exists, a key in flight
            // without one).
            self.in_flight.retain(|_, flight| flight.0 != id);
        }
        let mut wakers = Vec::new();
        self.end_partial(id, &mut wakers);
        (wakers, cancelled)
    }

    /// Drops `key` from the cache and detaches its flight if that flight's
    /// call is already running: the call may have read what changed, so a
    /// load made from now on starts a new flight instead of joining it (its
    /// own callers still get its result; `finish_call` keeps it out of the
    /// cache). A flight whose call has not started reads after the clear
    /// and stays joinable. Returns whether the cache held `key`.
    pub(crate) fn clear(&mut self, key: &K) -> bool {
        let removed = self.cache.remove(key);
        if let EntryRef::Occupied(flight) = self.in_flight.entry_ref(key) {
            if is_loading(&self.batches, flight.get().0) {
                flight.remove();
            }
        }
        removed
    }

    /// Empties the cache and detaches every flight whose call is running,
    /// as [`clear`](Self::clear) does for one key.
    pub(crate) fn clear_all(&mut self) {
        self.cache.clear();
        let batches = &self.batches;
        self.in_flight
            .retain(|_, (id, _)| !is_loading(batches, *id));
    }

    pub(crate) fn pending_keys(&self) -> usize {
        self.in_flight.len()
    }

    pub(crate) fn batches(&self) -> usize {
        self.batches.len()
    }
}

/// A key joins `batch` while this thread polls a batch call (a batch
/// function that loads): marks the batch as awaited by a call, the first
/// time, and returns its leader's waker, so that a leader holding for an
/// earlier partial call (perhaps the very call that awaits this key) looks
/// again and sends.
fn mark_if_awaited_by_call<K, V: Clone, E>(batch: &mut Batch<K, V, E>) -> Option<Waker> {
    if batch.awaited_by_call || !InsideBatchCall::active() {
        return None;
    }
    batch.awaited_by_call = true;
    batch.leader_waker()
}

/// Whether batch `id` is running its call.
fn is_loading<K, V, E>(batches: &FastMap<BatchId, Batch<K, V, E>>, id: BatchId) -> bool {
    batches.get(&id).is_some_and(|b| b.phase == Phase::Loading)
}

/// How one call of the batch function ended.
pub(crate) enum CallOutcome<O, E> {
    Returned(Result<O, Arc<E>>),
    Panicked,
}

/// Takes `key` off the in-flight map if it is still `flight` (batch, entry)
/// there. A user panic while a batch's results are published (a result
/// extractor, a value's clone) can leave some of its keys already off the
/// map and the batch to be sent again; meanwhile a new load of such a key
/// opens another flight, which the re-sent batch must not take off (nor
/// may a flight a `clear` detached take off its key's new one).
///
/// One probe: the entry is found by reference and removed through its
/// handle. The key is hashed once, before anything changes, so a `Hash`
/// that panics leaves the map as it was (taking the entry out and putting
/// another batch's back could lose that batch's flight).
fn remove_flight<K: Hash + Eq>(
    in_flight: &mut FastMap<K, (BatchId, usize)>,
    key: &K,
    flight: (BatchId, usize),
) {
    if let EntryRef::Occupied(entry) = in_flight.entry_ref(key) {
        if *entry.get() == flight {
            entry.remove();
        }
    }
}
