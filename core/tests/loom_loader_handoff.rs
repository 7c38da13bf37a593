//! Loom model of the loader's leader hand-off: a caller that leads a batch
//! and is dropped after its first poll must hand the batch to the other
//! caller (waking it), whatever the interleaving; nothing stays in flight.
#![cfg(loom)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
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
