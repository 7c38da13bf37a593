//! A caller's own deadline around a [`Work`].

use core::fmt;
use core::future::Future;
use core::hash::{BuildHasher, Hash};
use core::pin::Pin;
use core::task::{Context, Poll};

use super::flight::Outcome;
use super::{SingleFlightError, Work};

pin_project_lite::pin_project! {
    /// The future returned by
    /// [`Group::work_with_deadline`](super::Group::work_with_deadline) and
    /// [`Group::work_with_timeout`](super::Group::work_with_timeout).
    ///
    /// Resolves like [`Work`], or to
    /// [`SingleFlightError::DeadlineExceeded`] once the deadline future
    /// completes first. Giving up drops this caller's [`Work`] at once, with
    /// the usual [`Work`] cancellation: the other callers keep going.
    ///
    /// # Panics
    ///
    /// Polling it again after it returned `Ready` panics. A panic in
    /// `V::clone` unwinds out of this caller's poll alone, as for [`Work`].
    ///
    /// ```
    /// use brace::singleflight::{Group, SingleFlightError};
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let group: Group<u8, u8, ()> = Group::new();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let mut leader = std::pin::pin!(group.work(1, || std::future::pending()));
    /// assert!(leader.as_mut().poll(&mut cx).is_pending());
    /// // A follower whose deadline has already passed gives up...
    /// let mut impatient = std::pin::pin!(
    ///     group.work_with_deadline(1, std::future::ready(()), || std::future::ready(Ok(9)))
    /// );
    /// assert_eq!(impatient.as_mut().poll(&mut cx), Poll::Ready(Err(SingleFlightError::DeadlineExceeded)));
    /// // ...and the leader's work is still in flight.
    /// assert!(group.is_in_flight(&1));
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct WorkUntil<'g, K, V, E, S, F, Fut, D> {
        #[pin]
        work: Option<Work<'g, K, V, E, S, F, Fut>>,
        #[pin]
        deadline: D,
    }
}

impl<'g, K, V, E, S, F, Fut, D> WorkUntil<'g, K, V, E, S, F, Fut, D> {
    pub(super) fn new(work: Work<'g, K, V, E, S, F, Fut>, deadline: D) -> Self {
        WorkUntil {
            work: Some(work),
            deadline,
        }
    }
}

impl<K, V, E, S, F, Fut, D> Future for WorkUntil<'_, K, V, E, S, F, Fut, D>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<V, E>>,
    D: Future<Output = ()>,
{
    type Output = Outcome<V, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let work = this
            .work
            .as_mut()
            .as_pin_mut()
            .expect("`WorkUntil` polled after it returned `Ready`");
        let group = work.group();
        if let Poll::Ready(outcome) = work.poll(cx) {
            this.work.set(None);
            return Poll::Ready(outcome);
        }
        match this.deadline.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                // An outcome published while the deadline was polled (by
                // the leader on another thread) still wins: look once more.
                let work = this.work.as_mut().as_pin_mut().expect("still running");
                if let Poll::Ready(outcome) = work.poll(cx) {
                    this.work.set(None);
                    return Poll::Ready(outcome);
                }
                // Dropping the work leaves the flight (or hands it on).
                this.work.set(None);
                group.counters.deadline_exceeded();
                Poll::Ready(Err(SingleFlightError::DeadlineExceeded))
            }
        }
    }
}

impl<K, V, E, S, F, Fut, D> fmt::Debug for WorkUntil<'_, K, V, E, S, F, Fut, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkUntil")
            .field("work", &self.work)
            .finish_non_exhaustive()
    }
}
