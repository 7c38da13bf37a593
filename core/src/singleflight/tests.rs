//! Unit tests driven by hand: every poll is explicit, wakes are counted.

use std::boxed::Box;
use std::cell::Cell;
use std::format;
use std::future::{Future, pending, poll_fn, ready};
use std::pin::pin;
use std::rc::Rc;
use std::string::{String, ToString};
use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};
use std::task::{Context, Poll, Wake, Waker};
use std::vec::Vec;

use super::{Group, SingleFlightError};

/// A waker that counts how often it was woken.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, StdOrdering::SeqCst);
    }
}

fn counting() -> (StdArc<CountingWaker>, Waker) {
    let counter = StdArc::new(CountingWaker::default());
    let waker = Waker::from(StdArc::clone(&counter));
    (counter, waker)
}

fn wakes(counter: &CountingWaker) -> usize {
    counter.0.load(StdOrdering::SeqCst)
}

/// A future that stays pending until `gate` is set, then yields `value`.
fn gated<V: Clone, E>(gate: Rc<Cell<bool>>, value: V) -> impl Future<Output = Result<V, E>> {
    poll_fn(move |_| {
        if gate.get() {
            Poll::Ready(Ok(value.clone()))
        } else {
            Poll::Pending
        }
    })
}

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

#[test]
fn followers_get_the_leaders_value_and_are_woken() {
    let group: Group<u32, String, ()> = Group::new();
    let gate = Rc::new(Cell::new(false));
    let g = Rc::clone(&gate);
    let mut leader = pin!(group.work(1, move || gated(g, "v".to_string())));
    assert!(leader.as_mut().poll(&mut noop_cx()).is_pending());

    let (counter, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    let mut followers: Vec<_> = (0..3)
        .map(|_| {
            Box::pin(group.work(1, || -> std::future::Ready<Result<String, ()>> {
                panic!("a follower's closure must not run while the leader lives")
            }))
        })
        .collect();
    for f in &mut followers {
        assert!(f.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(wakes(&counter), 0);

    gate.set(true);
    assert_eq!(
        leader.as_mut().poll(&mut noop_cx()),
        Poll::Ready(Ok("v".to_string()))
    );
    assert_eq!(wakes(&counter), 3, "every follower is woken");
    assert_eq!(group.in_flight(), 0, "the key is freed when the work ends");
    for f in &mut followers {
        assert_eq!(f.as_mut().poll(&mut cx), Poll::Ready(Ok("v".to_string())));
    }
    let stats = group.stats();
    assert_eq!((stats.executions, stats.coalesced), (1, 3));
}

#[test]
fn an_error_is_shared_by_every_caller_as_one_arc() {
    let group: Group<u32, u32, String> = Group::new();
    let gate = Rc::new(Cell::new(false));
    let g = Rc::clone(&gate);
    let mut leader = pin!(group.work(1, move || {
        poll_fn(move |_| {
            if g.get() {
                Poll::Ready(Err("boom".to_string()))
            } else {
                Poll::Pending
            }
        })
    }));
    assert!(leader.as_mut().poll(&mut noop_cx()).is_pending());
    let mut follower = pin!(group.work(1, || ready(Ok(1))));
    assert!(follower.as_mut().poll(&mut noop_cx()).is_pending());
    gate.set(true);
    let Poll::Ready(Err(SingleFlightError::Failed(a))) = leader.as_mut().poll(&mut noop_cx())
    else {
        panic!("leader should see the failure");
    };
    let Poll::Ready(Err(SingleFlightError::Failed(b))) = follower.as_mut().poll(&mut noop_cx())
    else {
        panic!("follower should see the failure");
    };
    assert!(alloc::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(*a, "boom");
    assert_eq!(group.stats().executions, 1);
    assert_eq!(group.in_flight(), 0);
}

#[test]
fn a_dropped_leader_hands_the_work_to_the_oldest_follower() {
    let group: Group<u32, u32, ()> = Group::new();
    let mut leader = Box::pin(group.work(1, pending));
    assert!(leader.as_mut().poll(&mut noop_cx()).is_pending());

    let (first_wakes, first_waker) = counting();
    let (second_wakes, second_waker) = counting();
    let mut first = pin!(group.work(1, || ready(Ok(10))));
    let mut second = pin!(group.work(1, || ready(Ok(20))));
    assert!(
        first
            .as_mut()
            .poll(&mut Context::from_waker(&first_waker))
            .is_pending()
    );
    assert!(
        second
            .as_mut()
            .poll(&mut Context::from_waker(&second_waker))
            .is_pending()
    );

    drop(leader);
    assert_eq!(wakes(&first_wakes), 1, "the heir is woken");
    assert_eq!(wakes(&second_wakes), 0, "only the heir is woken");
    assert!(group.is_in_flight(&1), "the heir keeps the flight open");

    assert_eq!(first.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(10)));
    assert_eq!(wakes(&second_wakes), 1);
    assert_eq!(second.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(10)));
    let stats = group.stats();
    assert_eq!((stats.executions, stats.handoffs), (2, 1));
    assert_eq!(group.in_flight(), 0);
}

#[test]
fn a_dropped_heir_passes_the_inheritance_on() {
    let group: Group<u32, u32, ()> = Group::new();
    let mut leader = Box::pin(group.work(1, pending));
    assert!(leader.as_mut().poll(&mut noop_cx()).is_pending());
    let mut heir = Box::pin(group.work(1, || ready(Ok(10))));
    assert!(heir.as_mut().poll(&mut noop_cx()).is_pending());
    let (next_wakes, next_waker) = counting();
    let mut next = pin!(group.work(1, || ready(Ok(20))));
    assert!(
        next.as_mut()
            .poll(&mut Context::from_waker(&next_waker))
            .is_pending()
    );

    drop(leader);
    drop(heir); // woken but never polled
    assert_eq!(wakes(&next_wakes), 1);
    assert_eq!(next.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(20)));
    assert_eq!(group.in_flight(), 0);
}

#[test]
fn a_dropped_leader_without_followers_frees_the_key() {
    let group: Group<u32, u32, ()> = Group::new();
    let mut leader = Box::pin(group.work(1, pending));
    assert!(leader.as_mut().poll(&mut noop_cx()).is_pending());
    assert_eq!(group.in_flight(), 1);
    drop(leader);
    assert_eq!(group.in_flight(), 0);
    let mut next = pin!(group.work(1, || ready(Ok(3))));
    assert_eq!(next.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(3)));
}

#[test]
fn an_unpolled_call_does_nothing() {
    let group: Group<u32, u32, ()> = Group::new();
    let call = group.work(1, || -> std::future::Ready<Result<u32, ()>> {
        panic!("not polled")
    });
    assert_eq!(group.in_flight(), 0);
    drop(call);
    assert_eq!(group.stats().executions, 0);
}

#[test]
fn a_panic_reaches_every_caller_and_does_not_poison_the_key() {
    let group: Group<u32, u32, ()> = Group::new();
    let gate = Rc::new(Cell::new(false));
    let g = Rc::clone(&gate);
    let mut leader = pin!(group.work(1, move || {
        poll_fn(move |_| {
            if g.get() {
                panic!("loader bug")
            } else {
                Poll::<Result<u32, ()>>::Pending
            }
        })
    }));
    assert!(leader.as_mut().poll(&mut noop_cx()).is_pending());
    let (counter, waker) = counting();
    let mut follower = pin!(group.work(1, || ready(Ok(1))));
    assert!(
        follower
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );

    gate.set(true);
    assert_eq!(
        leader.as_mut().poll(&mut noop_cx()),
        Poll::Ready(Err(SingleFlightError::LeaderPanicked))
    );
    assert_eq!(wakes(&counter), 1);
    assert_eq!(
        follower.as_mut().poll(&mut noop_cx()),
        Poll::Ready(Err(SingleFlightError::LeaderPanicked))
    );
    assert_eq!(group.in_flight(), 0);
    assert_eq!(group.stats().panics, 1);

    let mut fresh = pin!(group.work(1, || ready(Ok(2))));
    assert_eq!(fresh.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(2)));
}

#[test]
fn a_panic_while_making_the_work_is_caught_too() {
    let group: Group<u32, u32, ()> = Group::new();
    let mut call = pin!(group.work(1, || -> std::future::Ready<Result<u32, ()>> {
        panic!("closure bug")
    }));
    assert_eq!(
        call.as_mut().poll(&mut noop_cx()),
        Poll::Ready(Err(SingleFlightError::LeaderPanicked))
    );
    assert_eq!(group.in_flight(), 0);
    assert_eq!(group.stats().panics, 1);
}

#[test]
fn a_follower_deadline_leaves_the_work_running_for_the_others() {
    let group: Group<u32, u32, ()> = Group::new();
    let gate = Rc::new(Cell::new(false));
    let g = Rc::clone(&gate);
    let mut leader = pin!(group.work(1, move || gated(g, 5)));
    assert!(leader.as_mut().poll(&mut noop_cx()).is_pending());
    let mut patient = pin!(group.work(1, || ready(Ok(0))));
    assert!(patient.as_mut().poll(&mut noop_cx()).is_pending());

    let expired = Rc::new(Cell::new(false));
    let e = Rc::clone(&expired);
    let deadline = poll_fn(move |_| {
        if e.get() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    });
    let mut impatient = pin!(group.work_with_deadline(1, deadline, || ready(Ok(0))));
    assert!(impatient.as_mut().poll(&mut noop_cx()).is_pending());
    expired.set(true);
    assert_eq!(
        impatient.as_mut().poll(&mut noop_cx()),
        Poll::Ready(Err(SingleFlightError::DeadlineExceeded))
    );
    assert!(group.is_in_flight(&1));

    gate.set(true);
    assert_eq!(leader.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(5)));
    assert_eq!(patient.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(5)));
    let stats = group.stats();
    assert_eq!((stats.executions, stats.deadlines_exceeded), (1, 1));
}

#[test]
fn a_result_ready_at_the_deadline_wins() {
    let group: Group<u32, u32, ()> = Group::new();
    let mut call = pin!(group.work_with_deadline(1, ready(()), || ready(Ok(4))));
    assert_eq!(call.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(4)));
    assert_eq!(group.stats().deadlines_exceeded, 0);
}

#[test]
fn distinct_keys_run_independently() {
    let group: Group<u32, u32, ()> = Group::new();
    let mut a = pin!(group.work(1, pending));
    let mut b = pin!(group.work(2, || ready(Ok(2))));
    assert!(a.as_mut().poll(&mut noop_cx()).is_pending());
    assert_eq!(b.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(2)));
    assert_eq!(group.in_flight(), 1);
    assert_eq!(group.stats().coalesced, 0);
}

#[test]
#[should_panic(expected = "polled after")]
fn polling_after_ready_panics() {
    let group: Group<u32, u32, ()> = Group::new();
    let mut call = pin!(group.work(1, || ready(Ok(1))));
    let _ = call.as_mut().poll(&mut noop_cx());
    let _ = call.as_mut().poll(&mut noop_cx());
}

#[test]
fn debug_shows_flights_and_waiters() {
    let group: Group<u32, u32, ()> = Group::new();
    let mut a = pin!(group.work(1, pending));
    let mut b = pin!(group.work(1, pending));
    assert!(a.as_mut().poll(&mut noop_cx()).is_pending());
    assert!(b.as_mut().poll(&mut noop_cx()).is_pending());
    let shown = format!("{group:?}");
    assert!(
        shown.contains("in_flight: 1") && shown.contains("waiting: 1"),
        "{shown}"
    );
}

/// A value whose clone number `panic_at` (counted from 1, over every clone
/// of the value and its copies) panics.
#[derive(Debug)]
struct Fragile {
    value: u32,
    clones: Rc<Cell<u32>>,
    panic_at: u32,
}

impl Clone for Fragile {
    fn clone(&self) -> Self {
        let n = self.clones.get() + 1;
        self.clones.set(n);
        assert_ne!(n, self.panic_at, "clone failed");
        Fragile {
            value: self.value,
            clones: Rc::clone(&self.clones),
            panic_at: self.panic_at,
        }
    }
}

/// What one caller of the flight saw.
#[derive(Debug, PartialEq)]
enum Seen {
    Value(u32),
    Panicked,
}

fn poll_catching<Fut>(call: core::pin::Pin<&mut Fut>) -> Poll<Seen>
where
    Fut: Future<Output = Result<Fragile, SingleFlightError<()>>>,
{
    let polled =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call.poll(&mut noop_cx())));
    match polled {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(Ok(v))) => Poll::Ready(Seen::Value(v.value)),
        Ok(Poll::Ready(Err(e))) => panic!("unexpected error {e:?}"),
        Err(_) => Poll::Ready(Seen::Panicked),
    }
}

#[test]
fn a_value_whose_clone_panics_fails_only_that_caller_and_the_work_runs_once() {
    const FOLLOWERS: usize = 3;
    // The leader and every follower take one clone each; whichever of them
    // panics, the work is not handed on.
    for panic_at in 1..=(FOLLOWERS as u32 + 1) {
        let group: Group<u32, Fragile, ()> = Group::new();
        let runs = Rc::new(Cell::new(0));
        let gate = Rc::new(Cell::new(false));
        let fragile = Fragile {
            value: 1,
            clones: Rc::new(Cell::new(0)),
            panic_at,
        };
        let (g, r) = (Rc::clone(&gate), Rc::clone(&runs));
        let mut value = Some(fragile);
        let mut leader = Box::pin(group.work(1, move || {
            r.set(r.get() + 1);
            poll_fn(move |_| match g.get() {
                true => Poll::Ready(Ok(value.take().expect("polled once when ready"))),
                false => Poll::Pending,
            })
        }));
        assert!(leader.as_mut().poll(&mut noop_cx()).is_pending());
        let mut followers: Vec<_> = (0..FOLLOWERS)
            .map(|i| {
                let r = Rc::clone(&runs);
                Box::pin(group.work(1, move || {
                    r.set(r.get() + 1);
                    ready(Ok(Fragile {
                        value: 10 + i as u32,
                        clones: Rc::new(Cell::new(0)),
                        panic_at: 0,
                    }))
                }))
            })
            .collect();
        for f in &mut followers {
            assert!(f.as_mut().poll(&mut noop_cx()).is_pending());
        }

        gate.set(true);
        let mut seen = Vec::new();
        match poll_catching(leader.as_mut()) {
            Poll::Ready(s) => seen.push(s),
            Poll::Pending => panic!("the leader's work was ready"),
        }
        drop(leader);
        for f in &mut followers {
            match poll_catching(f.as_mut()) {
                Poll::Ready(s) => seen.push(s),
                Poll::Pending => panic!("a follower is left waiting (panic at clone {panic_at})"),
            }
        }
        drop(followers);

        assert_eq!(
            runs.get(),
            1,
            "the work ran once (panic at clone {panic_at})"
        );
        let panicked = seen.iter().filter(|s| **s == Seen::Panicked).count();
        let answered = seen.iter().filter(|s| **s == Seen::Value(1)).count();
        assert_eq!(
            (panicked, answered),
            (1, FOLLOWERS),
            "only the caller whose clone panicked fails: {seen:?}"
        );
        assert_eq!(group.in_flight(), 0);
        let stats = group.stats();
        assert_eq!((stats.executions, stats.handoffs, stats.panics), (1, 0, 0));

        let mut fresh = pin!(group.work(1, || ready(Ok(Fragile {
            value: 2,
            clones: Rc::new(Cell::new(0)),
            panic_at: 0,
        }))));
        assert_eq!(poll_catching(fresh.as_mut()), Poll::Ready(Seen::Value(2)));
        assert_eq!(group.stats().executions, 2, "the next call runs afresh");
    }
}

#[test]
fn forgotten_work_still_answers_its_callers_and_hands_on_but_nobody_new_joins() {
    let group: Group<u32, u32, ()> = Group::new();
    let gate = Rc::new(Cell::new(false));
    let g = Rc::clone(&gate);
    let mut leader = Box::pin(group.work(1, move || gated(g, 10)));
    assert!(leader.as_mut().poll(&mut noop_cx()).is_pending());
    let mut follower = pin!(group.work(1, || ready(Ok::<u32, ()>(11))));
    assert!(follower.as_mut().poll(&mut noop_cx()).is_pending());

    group.forget_all();
    assert_eq!(group.in_flight(), 0);
    assert!(!group.forget(&1), "nothing left to forget");
    // A later caller runs its own work.
    let mut later = pin!(group.work(1, || ready(Ok::<u32, ()>(20))));
    assert_eq!(later.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(20)));

    // The forgotten work's leader is dropped: its follower takes over with
    // its own closure, as for work still in the map.
    drop(leader);
    assert_eq!(follower.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(11)));
    assert_eq!(group.in_flight(), 0);
    assert_eq!(group.stats().executions, 3);
}

/// Work whose future answers once `gate` opens, then panics when dropped.
struct AnswersThenPanics {
    gate: Rc<Cell<bool>>,
    value: Option<u32>,
}

impl Future for AnswersThenPanics {
    type Output = Result<u32, ()>;
    fn poll(mut self: core::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.gate.get() {
            return Poll::Pending;
        }
        Poll::Ready(Ok(self.value.take().expect("polled once")))
    }
}

impl Drop for AnswersThenPanics {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("the work panics in its drop");
        }
    }
}

#[test]
fn work_that_panics_in_its_drop_is_work_that_panicked() {
    let group: Group<u32, u32, ()> = Group::new();
    let gate = Rc::new(Cell::new(false));
    let g = Rc::clone(&gate);
    let mut leader = pin!(group.work(1, move || AnswersThenPanics {
        gate: g,
        value: Some(7),
    }));
    assert!(leader.as_mut().poll(&mut noop_cx()).is_pending());
    let mut follower = pin!(group.work(1, || ready(Ok::<u32, ()>(8))));
    assert!(follower.as_mut().poll(&mut noop_cx()).is_pending());
    gate.set(true);
    let led = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        leader.as_mut().poll(&mut noop_cx())
    }))
    .expect("the leader's caller does not panic");
    assert_eq!(led, Poll::Ready(Err(SingleFlightError::LeaderPanicked)));
    assert_eq!(
        follower.as_mut().poll(&mut noop_cx()),
        Poll::Ready(Err(SingleFlightError::LeaderPanicked)),
        "the follower is not handed the work to run again"
    );
    let stats = group.stats();
    assert_eq!((stats.executions, stats.panics), (1, 1));
    assert_eq!(group.in_flight(), 0);
}

/// Counts its wake-ups, then panics on each one.
#[derive(Default)]
struct PanickingWaker(AtomicUsize);

impl Wake for PanickingWaker {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, StdOrdering::SeqCst);
        panic!("waker panicked on purpose");
    }
}

#[test]
fn a_waker_that_panics_does_not_keep_the_other_followers_asleep() {
    let group: Group<u32, u32, ()> = Group::new();
    let gate = Rc::new(Cell::new(false));
    let g = Rc::clone(&gate);
    let mut leader = pin!(group.work(1, move || gated(g, 7)));
    assert!(leader.as_mut().poll(&mut noop_cx()).is_pending());

    // Woken in the order they joined: the panicking waker is in the middle.
    let (first_wakes, first_waker) = counting();
    let bad = StdArc::new(PanickingWaker::default());
    let bad_waker = Waker::from(StdArc::clone(&bad));
    let (last_wakes, last_waker) = counting();
    let mut followers: Vec<_> = [&first_waker, &bad_waker, &last_waker]
        .into_iter()
        .map(|waker| {
            let mut follower = Box::pin(group.work(1, || ready(Ok::<u32, ()>(0))));
            let polled = follower.as_mut().poll(&mut Context::from_waker(waker));
            assert!(polled.is_pending());
            follower
        })
        .collect();

    gate.set(true);
    let led = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        leader.as_mut().poll(&mut noop_cx())
    }));
    assert!(
        led.is_err(),
        "the waker's panic reaches the leader's caller"
    );
    assert_eq!(wakes(&first_wakes), 1);
    assert_eq!(bad.0.load(StdOrdering::SeqCst), 1);
    assert_eq!(
        wakes(&last_wakes),
        1,
        "the follower after the panicking waker was woken"
    );
    for follower in &mut followers {
        assert_eq!(follower.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(7)));
    }
    // As after a panicking `V::clone`, the leader's future is finished: it
    // does not mistake the lost answer for work that panicked.
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        leader.as_mut().poll(&mut noop_cx())
    }));
    assert!(again.is_err(), "polling the finished leader again panics");
    assert_eq!(group.in_flight(), 0);
    let stats = group.stats();
    assert_eq!((stats.executions, stats.panics), (1, 0));
}
