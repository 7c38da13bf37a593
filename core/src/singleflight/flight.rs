//! One in-flight execution: the shared result slot and its waiting callers.
//!
//! # Protocol
//!
//! A `Flight` lives in the group's map from the moment its first caller (the
//! leader) joins until the work ends. Its state is guarded by one mutex:
//!
//! * `runner` says who drives the work: `Running` (some caller is polling
//!   it), `HandingTo(id)` (the driver was dropped and waiter `id` has been
//!   woken to take over with its own closure) or `Closed` (nobody will run it
//!   again; the flight has left the map).
//! * `waiters` holds every follower that has not yet got a result, with its
//!   latest `Waker`, oldest first.
//! * `outcome` is set once, when the work ends; after that followers only
//!   read it.
//!
//! Lock order: the group's map lock, then a flight's lock. Joining, leaving
//! and abandoning take both, so "a flight is in the map" and "someone will
//! finish it or hand it on" change together: a caller either joins a flight
//! that still has a driver or an heir, or finds the key free. Finishing
//! removes the flight from the map first and then publishes the outcome, so
//! a caller that arrives in between starts a fresh execution, and every
//! follower already in `waiters` is woken with the outcome. Wakers are
//! always woken after both locks are released, all of them even if one
//! panics (`crate::wake::wake_all`). Under the locks a follower's waker is
//! only cloned, compared (`will_wake`) or dropped.
//!
//! Publishing moves the outcome in and closes the flight in one critical
//! section, with no user code in it; every caller, the leader included,
//! clones its own copy of the value afterwards, outside the locks. A
//! panicking `V::clone` then unwinds through that one caller, whose ticket
//! is already settled: a closed flight is never handed on, so the work runs
//! once.

use alloc::sync::Arc as SharedOutcome;
use alloc::vec::Vec;
use core::task::Waker;
use std::collections::HashMap;

use crate::sync::{Arc, Mutex};

use super::SingleFlightError;

/// What one execution produced, as every caller sees it.
pub(super) type Outcome<V, E> = Result<V, SingleFlightError<E>>;

/// The group's map of keys whose work is in flight.
pub(super) type FlightMap<K, V, E, S> = HashMap<K, Arc<Flight<V, E>>, S>;

/// Identifies one follower within one flight.
pub(super) type WaiterId = u64;

/// The slot shared by every caller of one execution.
pub(super) struct Flight<V, E> {
    state: Mutex<FlightState<V, E>>,
}

struct FlightState<V, E> {
    outcome: Option<SharedOutcome<Outcome<V, E>>>,
    runner: Runner,
    waiters: Vec<Waiter>,
    next_waiter: WaiterId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    Running,
    HandingTo(WaiterId),
    Closed,
}

struct Waiter {
    id: WaiterId,
    waker: Waker,
}

/// What a follower learns when it polls.
pub(super) enum FollowerPoll<V, E> {
    /// The work ended; here is its outcome.
    Ready(SharedOutcome<Outcome<V, E>>),
    /// The driver was dropped and this follower is the heir: it must now run
    /// its own closure and finish or hand on the flight itself.
    TakeOver,
    /// Still running; the waker is stored.
    Pending,
}

/// One caller's answer, before it takes its own copy of the value.
pub(super) enum Answer<V, E> {
    /// The leader's outcome, which nobody else waited for: kept uncloned.
    Alone(Outcome<V, E>),
    /// The outcome published to the flight's followers.
    Shared(SharedOutcome<Outcome<V, E>>),
}

impl<V: Clone, E> Answer<V, E> {
    /// The caller's own copy. Call once its ticket is settled: a panicking
    /// `V::clone` then fails this caller alone.
    pub(super) fn into_outcome(self) -> Outcome<V, E> {
        match self {
            Answer::Alone(outcome) => outcome,
            Answer::Shared(shared) => Outcome::clone(&shared),
        }
    }
}

/// What the group must do after a driver or an heir left unfinished.
pub(super) enum AfterLeave {
    /// Nothing: a plain follower left, or the work had already ended.
    Nothing,
    /// Wake this new heir (after releasing the locks).
    WakeHeir(Waker),
    /// Nobody is left to run the work: remove the flight from the map.
    Remove,
}

impl<V, E> Flight<V, E> {
    /// A flight whose work is being run by the caller that created it.
    pub(super) fn running() -> Self {
        Flight {
            state: Mutex::new(FlightState {
                outcome: None,
                runner: Runner::Running,
                waiters: Vec::new(),
                next_waiter: 0,
            }),
        }
    }

    /// Adds a follower. Call with the map lock held, on a flight found in
    /// the map (so it has a driver or an heir and no outcome yet).
    pub(super) fn join(&self, waker: &Waker) -> WaiterId {
        let mut st = self.state.lock();
        debug_assert!(st.outcome.is_none() && st.runner != Runner::Closed);
        let id = st.next_waiter;
        st.next_waiter += 1;
        st.waiters.push(Waiter {
            id,
            waker: waker.clone(),
        });
        id
    }

    /// A follower's poll: the outcome, a take-over order, or "keep waiting".
    pub(super) fn poll_follower(&self, id: WaiterId, waker: &Waker) -> FollowerPoll<V, E> {
        let mut st = self.state.lock();
        if let Some(outcome) = &st.outcome {
            return FollowerPoll::Ready(SharedOutcome::clone(outcome));
        }
        if st.runner == Runner::HandingTo(id) {
            st.runner = Runner::Running;
            st.waiters.retain(|w| w.id != id);
            return FollowerPoll::TakeOver;
        }
        if let Some(w) = st.waiters.iter_mut().find(|w| w.id == id) {
            if !w.waker.will_wake(waker) {
                w.waker = waker.clone();
            }
        }
        FollowerPoll::Pending
    }

    /// Closes the flight with the work's outcome. Call after the flight has
    /// left the map (so nobody joins any more). With followers waiting, the
    /// outcome is moved into one shared copy that they and the leader clone
    /// from, and their wakers are returned to be woken after the locks are
    /// released; without, it goes back to the leader untouched. No
    /// `V::clone` runs here, so nothing can unwind between the work ending
    /// and the flight closing.
    pub(super) fn finish(&self, outcome: Outcome<V, E>) -> (Answer<V, E>, Vec<Waker>) {
        let mut st = self.state.lock();
        st.runner = Runner::Closed;
        if st.waiters.is_empty() {
            return (Answer::Alone(outcome), Vec::new());
        }
        let shared = SharedOutcome::new(outcome);
        st.outcome = Some(SharedOutcome::clone(&shared));
        let wakers = st.waiters.drain(..).map(|w| w.waker).collect();
        (Answer::Shared(shared), wakers)
    }

    /// The driver was dropped before the work ended. Call with the map lock
    /// held. The oldest follower becomes the heir, or, with no followers,
    /// the flight closes and must leave the map.
    pub(super) fn abandon(&self) -> AfterLeave {
        let mut st = self.state.lock();
        debug_assert_eq!(st.runner, Runner::Running);
        st.appoint_heir()
    }

    /// Follower `id` was dropped before it got a result. Call with the map
    /// lock held. If it was the heir, the inheritance passes on.
    pub(super) fn leave(&self, id: WaiterId) -> AfterLeave {
        let mut st = self.state.lock();
        if st.outcome.is_some() {
            return AfterLeave::Nothing;
        }
        st.waiters.retain(|w| w.id != id);
        if st.runner == Runner::HandingTo(id) {
            st.appoint_heir()
        } else {
            AfterLeave::Nothing
        }
    }

    /// Followers currently waiting (for `Debug` and tests).
    pub(super) fn waiting(&self) -> usize {
        self.state.lock().waiters.len()
    }
}

impl<V, E> FlightState<V, E> {
    fn appoint_heir(&mut self) -> AfterLeave {
        match self.waiters.first_mut() {
            Some(heir) => {
                self.runner = Runner::HandingTo(heir.id);
                AfterLeave::WakeHeir(heir.waker.clone())
            }
            None => {
                self.runner = Runner::Closed;
                AfterLeave::Remove
            }
        }
    }
}
