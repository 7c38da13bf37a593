//! A follower's deadline that fires after the leader published its
//! outcome (on another thread, between the follower's look at the flight
//! and its poll of the deadline) gives the outcome, not
//! `DeadlineExceeded`. It gave `DeadlineExceeded` before the follower
//! looked at the flight once more when its deadline fired (found by a
//! review helper). Here the deadline itself drives the leader to the end,
//! which is what another thread would do in that gap.

use std::cell::RefCell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use brace::singleflight::Group;

#[test]
fn an_outcome_published_while_the_deadline_is_polled_wins() {
    let group: Group<u8, u8, ()> = Group::new();
    let mut cx = Context::from_waker(Waker::noop());
    let mut step = 0;
    let leader: Pin<Box<dyn Future<Output = _> + '_>> = Box::pin(group.work(1, move || {
        std::future::poll_fn(move |_| {
            step += 1;
            if step > 1 {
                Poll::Ready(Ok(7))
            } else {
                Poll::Pending
            }
        })
    }));
    let leader = RefCell::new(leader);
    assert!(leader.borrow_mut().as_mut().poll(&mut cx).is_pending());
    let deadline = std::future::poll_fn(|cx| {
        assert_eq!(leader.borrow_mut().as_mut().poll(cx), Poll::Ready(Ok(7)));
        Poll::Ready(())
    });
    let mut follower = pin!(group.work_with_deadline(1, deadline, || async { Ok(9) }));
    assert_eq!(follower.as_mut().poll(&mut cx), Poll::Ready(Ok(7)));
    assert_eq!(group.stats().deadlines_exceeded, 0);
}
