//! Loom models of the loader's leader hand-off: a caller that leads a batch
//! and is dropped after its first poll, or while its batch call is running,
//! must hand the batch to the other caller (waking it; a running call is
//! re-sent), whatever the interleaving; nothing stays in flight. And a load
//! that fills a batch wakes its leader wherever it is parked.
#![cfg(loom)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Waker};

use brace::loader::{BatchFn, BatchLoader};

/// Loads `k -> 10 k`: at once, or (`Tenfold::AfterAYield`) after returning
/// `Pending` once and waking itself, so a leader can be dropped while its
/// call is running.
#[derive(Clone, Copy)]
enum Tenfold {
    AtOnce,
    AfterAYield,
}

impl BatchFn<u64> for Tenfold {
    type Value = u64;
    type Error = Infallible;
    type Output = HashMap<u64, u64>;
    async fn load(&self, keys: &[u64]) -> Result<Self::Output, Infallible> {
        let mut yielded = matches!(self, Tenfold::AtOnce);
        std::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await;
        Ok(keys.iter().map(|&k| (k, 10 * k)).collect())
    }
}

/// One model run: a caller loads key 1 and is dropped once `give_up` says
/// so after a poll (it joined, and probably leads), while another thread
/// loads key 2. The other caller must get its value and nothing may stay in
/// flight. Returns whether the batch call had to be re-sent.
fn drop_a_leader(batch_fn: Tenfold, give_up: impl Fn(&BatchLoader<u64, Tenfold>) -> bool) -> bool {
    let loader = BatchLoader::builder(batch_fn).yields(1).build().unwrap();
    let other = loader.clone();
    let waiter = loom::thread::spawn(move || loom::future::block_on(other.load(2)));
    {
        let mut dropped = pin!(loader.load(1));
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..8 {
            if dropped.as_mut().poll(&mut cx).is_ready() || give_up(&loader) {
                break;
            }
        }
    }
    let value = waiter.join().unwrap();
    assert_eq!(value.unwrap(), Some(20));
    assert_eq!(loader.pending_keys(), 0);
    assert_eq!(loader.in_flight_batches(), 0);
    loader.stats().batches_restarted > 0
}

#[test]
fn dropped_leader_hands_the_batch_over() {
    // Dropped right after its first poll.
    loom::model(|| {
        drop_a_leader(Tenfold::AtOnce, |_| true);
    });
}

/// Loads `mine` here and `theirs` on another thread, at once; returns both
/// values once both callers are done.
fn load_on_two_threads(
    loader: BatchLoader<u64, Tenfold>,
    mine: u64,
    theirs: u64,
) -> (Option<u64>, Option<u64>) {
    let other = loader.clone();
    let thread = loom::thread::spawn(move || loom::future::block_on(other.load(theirs)));
    let value = loom::future::block_on(loader.load(mine)).unwrap();
    (value, thread.join().unwrap().unwrap())
}

#[test]
fn a_joining_caller_gets_the_leaders_result() {
    loom::model(|| {
        let loader = BatchLoader::builder(Tenfold::AtOnce)
            .yields(1)
            .build()
            .unwrap();
        assert_eq!(
            load_on_two_threads(loader.clone(), 3, 3),
            (Some(30), Some(30))
        );
        assert_eq!(loader.in_flight_batches(), 0);
    });
}

#[test]
fn a_leader_dropped_mid_call_hands_the_batch_over() {
    // Interleavings in which the other caller had joined the dropped
    // leader's running call and re-sent it (counted outside loom: the model
    // must reach that case, not only the ones where the callers never met).
    static RESENT: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        // Dropped once a call is running (the batch function returns
        // `Pending` once): if the other caller is in its batch, that caller
        // re-sends it, without key 1.
        if drop_a_leader(Tenfold::AfterAYield, |l| l.stats().batches_sent > 0) {
            RESENT.fetch_add(1, Ordering::Relaxed);
        }
    });
    assert!(
        RESENT.load(Ordering::Relaxed) > 0,
        "no interleaving dropped the leader mid-call with a follower waiting"
    );
}

#[test]
fn a_load_that_fills_the_batch_wakes_its_parked_leader() {
    // The leader's yield never ends by itself, so the only way on is the
    // wake from the load that fills the batch: a missed wake is a deadlock,
    // which loom reports, in whichever order the two callers arrive.
    loom::model(|| {
        let loader = BatchLoader::builder(Tenfold::AtOnce)
            .max_batch_size(2)
            .yield_with(std::future::pending::<()>)
            .build()
            .unwrap();
        assert_eq!(
            load_on_two_threads(loader.clone(), 1, 2),
            (Some(10), Some(20))
        );
        assert_eq!(loader.stats().batches_sent, 1);
        assert_eq!(loader.in_flight_batches(), 0);
    });
}

/// A `clear` of key 1 races a load of key 1 on another thread while a
/// first load of key 1 is being answered here: both loads get the value,
/// whether the second joined the first call or (cleared meanwhile) went
/// into a batch of its own, and nothing stays in flight.
#[test]
fn a_clear_racing_a_load_of_a_key_in_flight_strands_nobody() {
    loom::model(|| {
        let loader = BatchLoader::builder(Tenfold::AfterAYield)
            .yields(1)
            .build()
            .unwrap();
        let (other, clearer) = (loader.clone(), loader.clone());
        let later = loom::thread::spawn(move || loom::future::block_on(other.load(1)));
        let clear = loom::thread::spawn(move || clearer.clear(&1));
        let first = loom::future::block_on(loader.load(1));
        assert_eq!(first.unwrap(), Some(10));
        assert_eq!(later.join().unwrap().unwrap(), Some(10));
        let _ = clear.join().unwrap();
        assert_eq!(loader.pending_keys(), 0);
        assert_eq!(loader.in_flight_batches(), 0);
    });
}
