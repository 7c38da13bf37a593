//! Loom models of the loader's leader hand-off: a caller that leads a batch
//! and is dropped after its first poll, or while its batch call is running,
//! must hand the batch to the other caller (waking it; a running call is
//! re-sent), whatever the interleaving; nothing stays in flight.
#![cfg(loom)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Waker};

use brace::loader::{BatchFn, BatchLoader};

/// Loads `k -> 10 k` at once.
struct Tenfold;

impl BatchFn<u64> for Tenfold {
    type Value = u64;
    type Error = Infallible;
    type Output = HashMap<u64, u64>;
    async fn load(&self, keys: &[u64]) -> Result<Self::Output, Infallible> {
        Ok(keys.iter().map(|&k| (k, 10 * k)).collect())
    }
}

#[test]
fn dropped_leader_hands_the_batch_over() {
    loom::model(|| {
        let loader = BatchLoader::builder(Tenfold).yields(1).build().unwrap();
        let other = loader.clone();
        let waiter = loom::thread::spawn(move || loom::future::block_on(other.load(2)));
        {
            // Joins (and probably leads) at its first poll, then is dropped.
            let mut dropped = pin!(loader.load(1));
            let _ = dropped
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()));
        }
        let value = waiter.join().unwrap();
        assert_eq!(value.unwrap(), Some(20));
        assert_eq!(loader.pending_keys(), 0);
        assert_eq!(loader.in_flight_batches(), 0);
    });
}

#[test]
fn a_joining_caller_gets_the_leaders_result() {
    loom::model(|| {
        let loader = BatchLoader::builder(Tenfold).yields(1).build().unwrap();
        let other = loader.clone();
        let joiner = loom::thread::spawn(move || loom::future::block_on(other.load(3)));
        let value = loom::future::block_on(loader.load(3));
        assert_eq!(value.unwrap(), Some(30));
        assert_eq!(joiner.join().unwrap().unwrap(), Some(30));
        assert_eq!(loader.in_flight_batches(), 0);
    });
}

/// Loads `k -> 10 k` after returning `Pending` once (waking itself), so a
/// leader can be dropped while the call is running.
struct TenfoldAfterAYield;

impl BatchFn<u64> for TenfoldAfterAYield {
    type Value = u64;
    type Error = Infallible;
    type Output = HashMap<u64, u64>;
    async fn load(&self, keys: &[u64]) -> Result<Self::Output, Infallible> {
        let mut yielded = false;
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

#[test]
fn a_leader_dropped_mid_call_hands_the_batch_over() {
    // Interleavings in which the other caller had joined the dropped
    // leader's running call and re-sent it (counted outside loom: the model
    // must reach that case, not only the ones where the callers never met).
    static RESENT: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let loader = BatchLoader::builder(TenfoldAfterAYield)
            .yields(1)
            .build()
            .unwrap();
        let other = loader.clone();
        let waiter = loom::thread::spawn(move || loom::future::block_on(other.load(2)));
        {
            // Polled until a call is running (the batch function returns
            // `Pending` once), then dropped: if the other caller is in this
            // batch, it re-sends it, without key 1.
            let mut dropped = pin!(loader.load(1));
            let mut cx = Context::from_waker(Waker::noop());
            for _ in 0..8 {
                if dropped.as_mut().poll(&mut cx).is_ready() || loader.stats().batches_sent > 0 {
                    break;
                }
            }
        }
        let value = waiter.join().unwrap();
        assert_eq!(value.unwrap(), Some(20));
        assert_eq!(loader.pending_keys(), 0);
        assert_eq!(loader.in_flight_batches(), 0);
        if loader.stats().batches_restarted > 0 {
            RESENT.fetch_add(1, Ordering::Relaxed);
        }
    });
    assert!(
        RESENT.load(Ordering::Relaxed) > 0,
        "no interleaving dropped the leader mid-call with a follower waiting"
    );
}
