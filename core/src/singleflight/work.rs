//! The future of one call to [`Group::work`](super::Group::work) and the
//! ticket that keeps its place in a flight.

use alloc::sync::Arc as SharedError;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::hash::{BuildHasher, Hash};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::sync::Arc;
use crate::wake::wake_all;

use super::flight::{AfterLeave, Answer, Flight, FlightMap, FollowerPoll, Outcome, WaiterId};
use super::{Group, SingleFlightError};

pin_project_lite::pin_project! {
    /// The future returned by [`Group::work`](super::Group::work).
    ///
    /// Resolves to the shared outcome of the key's execution. Lazy: it joins
    /// the key's flight on its first poll.
    ///
    /// # Cancellation
    ///
    /// Dropping it never leaves other callers hanging: a follower just
    /// leaves; a leader's work is dropped and the oldest follower takes over
    /// (see [`Group`](super::Group)).
    ///
    /// # Panics
    ///
    /// Polling it again after it returned `Ready` panics. A panic in
    /// `V::clone`, while this caller takes its copy of the shared value,
    /// unwinds out of this poll only: the other callers still get the value
    /// and the work is not run again (see [`Group`](super::Group)'s
    /// `# Panics`). Likewise a panic in a follower's waker unwinds out of
    /// the poll that finished the work, after every other follower was
    /// woken.
    ///
    /// ```
    /// use brace::singleflight::{Group, Work};
    /// use std::future::Ready;
    ///
    /// let group: Group<u8, u8, ()> = Group::new();
    /// let work = group.work(1, || std::future::ready(Ok(5)));
    /// # let mut work = std::pin::pin!(work);
    /// # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// assert_eq!(work.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(5)));
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct Work<'g, K, V, E, S, F, Fut> {
        #[pin]
        running: Option<Fut>,
        make: Option<F>,
        key: Option<K>,
        ticket: Option<Ticket<'g, K, V, E, S>>,
        group: &'g Group<K, V, E, S>,
    }
}

impl<'g, K, V, E, S, F, Fut> Work<'g, K, V, E, S, F, Fut> {
    /// The group this call belongs to.
    pub(super) fn group(&self) -> &'g Group<K, V, E, S> {
        self.group
    }

    pub(super) fn new(group: &'g Group<K, V, E, S>, key: K, make: F) -> Self {
        Work {
            running: None,
            make: Some(make),
            key: Some(key),
            ticket: None,
            group,
        }
    }
}

impl<K, V, E, S, F, Fut> Future for Work<'_, K, V, E, S, F, Fut>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<V, E>>,
{
    type Output = Outcome<V, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if this.ticket.is_none() {
            let key = this
                .key
                .take()
                .expect("`Work` polled after it returned `Ready`");
            let ticket = Ticket::join(this.group, key, cx);
            if ticket.role == Role::Leader {
                start(this.make, this.running.as_mut());
            }
            *this.ticket = Some(ticket);
        }
        loop {
            let ticket = this.ticket.as_mut().expect("joined above");
            let (answer, wakers) = match ticket.role {
                Role::Leader => match poll_running(this.running.as_mut(), cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(outcome) => {
                        // Dropped with panics caught: a future that panics
                        // in its drop is work that panicked (uncaught, the
                        // unwind would hand the work to a follower, which
                        // would run it again).
                        let dropped = catch_unwind(AssertUnwindSafe(|| this.running.set(None)));
                        let outcome = match dropped {
                            Ok(()) => outcome,
                            Err(_panic) => Err(SingleFlightError::LeaderPanicked),
                        };
                        if matches!(outcome, Err(SingleFlightError::LeaderPanicked)) {
                            this.group.counters.panicked();
                        }
                        ticket.finish(outcome)
                    }
                },
                Role::Follower(id) => match ticket.flight.poll_follower(id, cx.waker()) {
                    FollowerPoll::Pending => return Poll::Pending,
                    FollowerPoll::Ready(shared) => {
                        ticket.settled = true;
                        (Answer::Shared(shared), Vec::new())
                    }
                    FollowerPoll::TakeOver => {
                        ticket.role = Role::Leader;
                        this.group.counters.handed_off();
                        this.group.counters.executed();
                        start(this.make, this.running.as_mut());
                        continue;
                    }
                },
            };
            // The ticket is settled and the flight closed; with the ticket
            // gone, this caller's future is finished. The followers
            // are woken next, every one of them even if a waker panics (its
            // panic then unwinds out of this poll). This caller's copy of
            // the value is made last, so a panicking `V::clone` fails this
            // caller alone. Either way the work is never handed on and runs
            // once.
            *this.ticket = None;
            wake_all(wakers);
            return Poll::Ready(answer.into_outcome());
        }
    }
}

/// Makes the work's future. A panic in `make` leaves `running` empty, which
/// [`poll_running`] reports as a panicked execution.
fn start<F, Fut>(make: &mut Option<F>, mut running: Pin<&mut Option<Fut>>)
where
    F: FnOnce() -> Fut,
{
    let make = make
        .take()
        .expect("a caller leads at most once, so its closure is still here");
    if let Ok(fut) = catch_unwind(AssertUnwindSafe(make)) {
        running.set(Some(fut));
    }
}

/// Polls the work with panics caught; `None` work means `make` panicked.
fn poll_running<V, E, Fut>(
    running: Pin<&mut Option<Fut>>,
    cx: &mut Context<'_>,
) -> Poll<Outcome<V, E>>
where
    Fut: Future<Output = Result<V, E>>,
{
    let Some(fut) = running.as_pin_mut() else {
        return Poll::Ready(Err(SingleFlightError::LeaderPanicked));
    };
    match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(Ok(value))) => Poll::Ready(Ok(value)),
        Ok(Poll::Ready(Err(e))) => Poll::Ready(Err(SingleFlightError::Failed(SharedError::new(e)))),
        Err(_panic) => Poll::Ready(Err(SingleFlightError::LeaderPanicked)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Leader,
    Follower(WaiterId),
}

/// One caller's place in a flight. Dropped unsettled (the caller's future
/// was dropped), it hands the work on or leaves, so nobody hangs.
pub(super) struct Ticket<'g, K, V, E, S> {
    group: &'g Group<K, V, E, S>,
    key: K,
    flight: Arc<Flight<V, E>>,
    role: Role,
    settled: bool,
    /// [`Ticket::leave_unsettled`], captured at `join` where the key's
    /// bounds are known (a `Drop` impl cannot require them).
    leave_unsettled: fn(&mut Self),
}

impl<'g, K, V, E, S> Ticket<'g, K, V, E, S>
where
    K: Hash + Eq + Clone,
    S: BuildHasher,
{
    /// Joins `key`'s flight as a follower, or starts one as its leader.
    fn join(group: &'g Group<K, V, E, S>, key: K, cx: &Context<'_>) -> Self {
        let mut map = group.in_flight.lock();
        let (flight, role) = match map.get(&key) {
            Some(flight) => {
                let id = flight.join(cx.waker());
                (Arc::clone(flight), Role::Follower(id))
            }
            None => {
                let flight = Arc::new(Flight::running());
                map.insert(key.clone(), Arc::clone(&flight));
                (flight, Role::Leader)
            }
        };
        drop(map);
        match role {
            Role::Leader => group.counters.executed(),
            Role::Follower(_) => group.counters.coalesced(),
        }
        Ticket {
            group,
            key,
            flight,
            role,
            settled: false,
            leave_unsettled: Self::leave_unsettled,
        }
    }

    /// The caller's future was dropped before it got a result. A leader
    /// hands the work to the oldest follower; an heir passes its
    /// inheritance on; a plain follower just leaves. With nobody left to
    /// run the work, the key is freed.
    fn leave_unsettled(&mut self) {
        self.settled = true;
        let mut map = self.group.in_flight.lock();
        let after = match self.role {
            Role::Leader => self.flight.abandon(),
            Role::Follower(id) => self.flight.leave(id),
        };
        match after {
            AfterLeave::Nothing => {}
            AfterLeave::Remove => remove_flight(&mut map, &self.key, &self.flight),
            AfterLeave::WakeHeir(heir) => {
                drop(map);
                heir.wake();
            }
        }
    }

    /// The leader's work ended: free the key and close the flight. Returns
    /// the leader's answer, still to be cloned, and the followers' wakers,
    /// still to be woken (with [`wake_all`], so that a panicking waker does
    /// not keep the others asleep).
    fn finish(&mut self, outcome: Outcome<V, E>) -> (Answer<V, E>, Vec<Waker>) {
        remove_flight(&mut self.group.in_flight.lock(), &self.key, &self.flight);
        let finished = self.flight.finish(outcome);
        self.settled = true;
        finished
    }
}

/// Removes `key` from the map if it still maps to `flight`.
fn remove_flight<K, V, E, S>(map: &mut FlightMap<K, V, E, S>, key: &K, flight: &Arc<Flight<V, E>>)
where
    K: Hash + Eq,
    S: BuildHasher,
{
    if map.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
        map.remove(key);
    }
}

impl<K, V, E, S> Drop for Ticket<'_, K, V, E, S> {
    fn drop(&mut self) {
        if !self.settled {
            (self.leave_unsettled)(self);
        }
    }
}

impl<K, V, E, S, F, Fut> fmt::Debug for Work<'_, K, V, E, S, F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Work")
            .field("ticket", &self.ticket)
            .field("running", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

impl<K, V, E, S> fmt::Debug for Ticket<'_, K, V, E, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("role", &self.role)
            .field("settled", &self.settled)
            .finish_non_exhaustive()
    }
}
