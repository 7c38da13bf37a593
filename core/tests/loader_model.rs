//! A randomized single-threaded "executor" model of many loads.
//! Each load is its own task, polled only when its waker was woken (as a real
//! executor does). Random ops: start a load, poll, drop, clear, prime,
//! release backend permits. At the end every permit is released; any load
//! still pending with no wake pending is a lost wake-up (a hang).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use brace::loader::{BatchLoader, LoadError};
use common::{Backend, Flag};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Fut<'a> = Pin<
    Box<dyn Future<Output = Vec<(u64, brace::loader::LoadResult<u64, common::BackendError>)>> + 'a>,
>;

struct Task<'a> {
    fut: Option<Fut<'a>>,
    flag: Arc<Flag>,
    waker: Waker,
}

fn run(seed: u64, max_batch: usize, yields: u32, hold: bool, cache: bool, chaos: bool) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (backend, gate) = Backend::gated();
    let loader = BatchLoader::builder(backend.clone())
        .max_batch_size(max_batch)
        .yields(yields)
        .hold_stragglers(hold)
        .cache(cache)
        .build()
        .unwrap();
    let mut tasks: Vec<Task<'_>> = Vec::new();
    let check = |key: u64, r: &brace::loader::LoadResult<u64, common::BackendError>| match r {
        Ok(Some(v)) => assert!(
            *v == key * 10 || *v == key * 10 + 1,
            "seed {seed}: key {key} got {v}"
        ),
        Ok(None) => assert_eq!(key, common::MISSING, "seed {seed}: key {key} got None"),
        Err(LoadError::Panicked) | Err(LoadError::Batch(_)) if chaos => {}
        Err(LoadError::Panicked) => panic!("seed {seed}: panicked"),
        Err(e) => panic!("seed {seed}: key {key} error {e}"),
    };
    for _step in 0..600 {
        match rng.random_range(0..100) {
            0..=24 => {
                let flag = Arc::new(Flag(AtomicBool::new(true)));
                let waker = Waker::from(Arc::clone(&flag));
                let fut: Fut<'_> = if rng.random_bool(0.3) {
                    let n = rng.random_range(0..5);
                    let keys: Vec<u64> = (0..n).map(|_| rng.random_range(1..12)).collect();
                    let l = &loader;
                    Box::pin(async move {
                        let rs = l.load_many(keys.clone()).await;
                        keys.into_iter().zip(rs).collect()
                    })
                } else {
                    let mut k = rng.random_range(1..12);
                    if chaos && rng.random_bool(0.05) {
                        k = if rng.random_bool(0.5) {
                            common::PANIC
                        } else {
                            common::POISON
                        };
                    }
                    let l = &loader;
                    Box::pin(async move { vec![(k, l.load(k).await)] })
                };
                tasks.push(Task {
                    fut: Some(fut),
                    flag,
                    waker,
                });
            }
            25..=69 => {
                // run woken tasks once
                for t in tasks.iter_mut() {
                    let spurious = rng.random_bool(0.05);
                    if t.fut.is_some() && (t.flag.0.swap(false, Ordering::SeqCst) || spurious) {
                        if rng.random_bool(0.3) {
                            // a new waker: only the newest may be relied on
                            t.flag = Arc::new(Flag(AtomicBool::new(false)));
                            t.waker = Waker::from(Arc::clone(&t.flag));
                        }
                        let mut cx = Context::from_waker(&t.waker);
                        if let Poll::Ready(rs) = t.fut.as_mut().unwrap().as_mut().poll(&mut cx) {
                            for (k, r) in &rs {
                                check(*k, r);
                            }
                            t.fut = None;
                        }
                    }
                }
            }
            70..=79 => {
                let live: Vec<usize> = (0..tasks.len())
                    .filter(|&i| tasks[i].fut.is_some())
                    .collect();
                if !live.is_empty() {
                    let i = live[rng.random_range(0..live.len())];
                    tasks[i].fut = None;
                }
            }
            80..=89 => gate.add_permits(rng.random_range(1..3)),
            90..=94 => {
                let k = rng.random_range(1..12);
                loader.clear(&k);
            }
            95..=97 => {
                let k = rng.random_range(1..12);
                if k != common::MISSING {
                    loader.prime(k, k * 10 + 1);
                }
            }
            _ => loader.clear_all(),
        }
    }
    gate.add_permits(100_000);
    for _round in 0..10_000 {
        let mut any = false;
        for t in tasks.iter_mut() {
            if t.fut.is_some() && t.flag.0.swap(false, Ordering::SeqCst) {
                any = true;
                let mut cx = Context::from_waker(&t.waker);
                if let Poll::Ready(rs) = t.fut.as_mut().unwrap().as_mut().poll(&mut cx) {
                    for (k, r) in &rs {
                        check(*k, r);
                    }
                    t.fut = None;
                }
            }
        }
        if !any {
            break;
        }
    }
    let stuck = tasks.iter().filter(|t| t.fut.is_some()).count();
    assert_eq!(
        stuck,
        0,
        "seed {seed} (max_batch {max_batch}, yields {yields}, hold {hold}, cache {cache}): {stuck} loads never woken; pending_keys {} batches {}",
        loader.pending_keys(),
        loader.in_flight_batches()
    );
    drop(tasks);
    assert_eq!(
        (loader.pending_keys(), loader.in_flight_batches()),
        (0, 0),
        "seed {seed}: left in flight"
    );
}

#[test]
fn random_loads_drops_and_clears_lose_no_wake_up_and_leave_nothing_in_flight() {
    for seed in 0..300u64 {
        let max_batch = [1, 2, 3, 5, 1000][(seed % 5) as usize];
        let yields = [0, 1, 2, 5][((seed / 5) % 4) as usize];
        let hold = (seed / 20) % 2 == 0;
        let cache = (seed / 40) % 2 == 0;
        run(seed, max_batch, yields, hold, cache, seed % 3 == 0);
    }
}
