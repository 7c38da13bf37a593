//! Loom models of the single-flight hand-off: whatever the interleaving, a
//! follower racing a leader that is dropped (or that finishes) gets a value
//! and never hangs, and the in-flight map ends empty.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test
//! --release -p brace --test loom_singleflight_handoff`.
#![cfg(loom)]

use std::future::{Future, pending, ready};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use brace::singleflight::Group;

type TestGroup = Group<u8, u8, ()>;

/// A caller that has joined (polled once) is dropped while another caller
/// on a second thread asks for the same key. Whoever led, the second caller
/// gets a value: it inherits the work, finds the key free and leads, or
/// (if it led) runs its own work. Nobody hangs; the map ends empty.
#[test]
fn dropped_leader_never_strands_a_follower() {
    loom::model(|| {
        let group = Arc::new(TestGroup::new());
        let follower_group = Arc::clone(&group);
        let follower = loom::thread::spawn(move || {
            loom::future::block_on(follower_group.work(1, || ready(Ok(7))))
        });

        let mut dropped = Box::pin(group.work(1, pending));
        let mut cx = Context::from_waker(Waker::noop());
        match dropped.as_mut().poll(&mut cx) {
            // It followed the other thread's finished work.
            Poll::Ready(v) => assert_eq!(v, Ok(7)),
            Poll::Pending => {}
        }
        drop(dropped);

        assert_eq!(follower.join().unwrap(), Ok(7));
        assert_eq!(group.in_flight(), 0);
        let stats = group.stats();
        assert!(stats.handoffs <= 1);
        assert_eq!(stats.executions + stats.coalesced, 2 + stats.handoffs);
    });
}

/// Two callers race on one key with work that is ready at once: each gets
/// its own value or the other's, they agree whenever one joined the other,
/// and the map ends empty.
#[test]
fn finishing_leader_reaches_or_frees_for_a_follower() {
    loom::model(|| {
        let group = Arc::new(TestGroup::new());
        let other_group = Arc::clone(&group);
        let other = loom::thread::spawn(move || {
            loom::future::block_on(other_group.work(1, || ready(Ok(8))))
        });
        let mine = loom::future::block_on(group.work(1, || ready(Ok(7))));
        let theirs = other.join().unwrap();

        let stats = group.stats();
        assert_eq!(stats.executions + stats.coalesced, 2);
        if stats.coalesced == 1 {
            assert_eq!(mine, theirs, "a caller that joined gets the other's value");
        } else {
            assert_eq!((mine, theirs), (Ok(7), Ok(8)));
        }
        assert_eq!(group.in_flight(), 0);
    });
}

/// The leader is dropped and then a follower that may have become its heir
/// is dropped too, before it ever ran: the inheritance passes on to the
/// caller on the other thread, or the key is freed for it. It never hangs.
#[test]
fn dropped_heir_passes_the_work_on() {
    loom::model(|| {
        let group = Arc::new(TestGroup::new());
        let other_group = Arc::clone(&group);
        let other = loom::thread::spawn(move || {
            loom::future::block_on(other_group.work(1, || ready(Ok(7))))
        });

        let mut cx = Context::from_waker(Waker::noop());
        let mut leader = Box::pin(group.work(1, pending));
        let led = leader.as_mut().poll(&mut cx);
        let mut heir = Box::pin(group.work(1, || ready(Ok(9))));
        let heir_first = heir.as_mut().poll(&mut cx);
        drop(leader);
        drop(heir);

        let got = other.join().unwrap();
        // 7: it ran its own work; 9: it followed a caller here that led with
        // ready work before the other thread's caller joined.
        assert!(got == Ok(7) || got == Ok(9), "{got:?}");
        if let Poll::Ready(v) = led {
            assert_eq!(v, Ok(7), "the first caller here can only have followed");
        }
        if let Poll::Ready(v) = heir_first {
            assert!(v == Ok(7) || v == Ok(9));
        }
        assert_eq!(group.in_flight(), 0);
    });
}

/// `forget` races a leader being dropped and a follower on another thread:
/// the follower gets a value (its own work's, or the one it inherited, or
/// the fresh execution's after the key was forgotten), nobody hangs, and
/// the map ends empty whichever flight `forget` took off it.
#[test]
fn forget_racing_a_hand_off_strands_nobody() {
    loom::model(|| {
        let group = Arc::new(TestGroup::new());
        let (follower_group, forget_group) = (Arc::clone(&group), Arc::clone(&group));
        let follower = loom::thread::spawn(move || {
            loom::future::block_on(follower_group.work(1, || ready(Ok(7))))
        });
        let forgetter = loom::thread::spawn(move || forget_group.forget(&1));

        let mut dropped = Box::pin(group.work(1, pending));
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(v) = dropped.as_mut().poll(&mut cx) {
            assert_eq!(v, Ok(7));
        }
        drop(dropped);

        assert_eq!(follower.join().unwrap(), Ok(7));
        let _ = forgetter.join().unwrap();
        assert_eq!(group.in_flight(), 0);
    });
}
