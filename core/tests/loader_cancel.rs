//! Cancellation: a dropped leader hands its batch on; a batch whose callers
//! are all dropped is cancelled; nothing is left in flight either way.

mod common;

use std::task::Poll;

use brace::loader::BatchLoader;
use common::{Backend, poll_once};

fn assert_idle(loader: &BatchLoader<u64, Backend>) {
    assert_eq!(loader.pending_keys(), 0, "keys left in flight");
    assert_eq!(loader.in_flight_batches(), 0, "batches left in flight");
}

#[test]
fn leader_dropped_while_yielding_hands_over_to_a_follower() {
    let backend = Backend::new();
    let loader = BatchLoader::new(backend.clone());
    let mut leader = Box::pin(loader.load(1));
    let mut follower = Box::pin(loader.load(2));
    assert!(poll_once(&mut leader).is_pending(), "leader yields first");
    assert!(poll_once(&mut follower).is_pending());
    drop(leader);
    let value = futures_executor::block_on(follower);
    assert_eq!(value.unwrap(), Some(20));
    // Key 1 lost its only caller before the call: it is not sent.
    assert_eq!(backend.calls(), vec![vec![2]]);
    assert_idle(&loader);
}

#[test]
fn leader_dropped_mid_call_makes_a_follower_resend() {
    let backend = Backend::hanging_first();
    let loader = BatchLoader::new(backend.clone());
    let mut leader = Box::pin(loader.load(1));
    let mut follower = Box::pin(loader.load(2));
    // A load joins at its first poll; the first to join leads.
    assert!(poll_once(&mut leader).is_pending());
    assert!(poll_once(&mut follower).is_pending());
    for _ in 0..100 {
        assert!(poll_once(&mut leader).is_pending());
        if backend.started() == 1 {
            break;
        }
    }
    assert_eq!(backend.started(), 1, "the leader started the call");
    assert!(poll_once(&mut follower).is_pending(), "call still running");
    drop(leader);
    let value = futures_executor::block_on(follower);
    assert_eq!(value.unwrap(), Some(20));
    assert_eq!(backend.calls(), vec![vec![1, 2], vec![2]]);
    let stats = loader.stats();
    assert_eq!((stats.batches_sent, stats.batches_restarted), (2, 1));
    assert_idle(&loader);
}

#[test]
fn every_caller_dropped_cancels_the_batch() {
    let backend = Backend::new();
    let loader = BatchLoader::new(backend.clone());
    let mut a = Box::pin(loader.load(1));
    let mut b = Box::pin(loader.load(2));
    let mut c = Box::pin(loader.load(2)); // same key: joins b's entry
    for f in [&mut a, &mut b, &mut c] {
        assert!(poll_once(f).is_pending());
    }
    assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (2, 1));
    drop((a, b, c));
    assert_idle(&loader);
    assert_eq!(backend.call_count(), 0);
    assert_eq!(loader.stats().batches_cancelled, 1);
    // The loader still works, and key 1 is loaded afresh.
    let value = futures_executor::block_on(loader.load(1));
    assert_eq!(value.unwrap(), Some(10));
    assert_eq!(backend.calls(), vec![vec![1]]);
    assert_idle(&loader);
}

#[test]
fn every_caller_dropped_mid_call_cancels_the_call() {
    let (backend, gate) = Backend::gated();
    let loader = BatchLoader::new(backend.clone());
    let mut a = Box::pin(loader.load(1));
    let mut b = Box::pin(loader.load(2));
    assert!(poll_once(&mut a).is_pending(), "a leads");
    assert!(poll_once(&mut b).is_pending());
    for _ in 0..100 {
        if backend.started() == 1 {
            break;
        }
        assert!(poll_once(&mut a).is_pending());
    }
    assert_eq!(backend.started(), 1);
    drop((a, b));
    assert_idle(&loader);
    assert_eq!(loader.stats().batches_cancelled, 1);
    gate.add_permits(1);
    let value = futures_executor::block_on(loader.load(2));
    assert_eq!(value.unwrap(), Some(20));
    assert_idle(&loader);
}

#[test]
fn unpolled_callers_are_dropped_cleanly() {
    let loader = BatchLoader::new(Backend::new());
    // Enqueued at first poll only: dropping unpolled futures changes nothing.
    drop(loader.load(1));
    drop(loader.load_many([1, 2, 3]));
    assert_idle(&loader);
}

#[test]
fn a_load_created_but_not_polled_holds_no_batch_back() {
    let backend = Backend::new();
    let loader = BatchLoader::new(backend.clone());
    // Created first, but it has not joined anything: the load awaited
    // alone leads its own batch, which carries only its key.
    let idle = loader.load(1);
    assert_eq!(
        futures_executor::block_on(loader.load(2)).unwrap(),
        Some(20)
    );
    assert_eq!(backend.calls(), vec![vec![2]]);
    assert_idle(&loader);
    // Polled later, it loads on its own.
    assert_eq!(futures_executor::block_on(idle).unwrap(), Some(10));
    assert_eq!(backend.calls(), vec![vec![2], vec![1]]);
    assert_idle(&loader);
}

#[test]
#[should_panic(expected = "polled after it returned")]
fn a_load_polled_after_its_result_panics() {
    let loader = BatchLoader::new(Backend::new());
    let mut load = Box::pin(loader.load(1));
    let first = futures_executor::block_on(&mut load);
    assert_eq!(first.unwrap(), Some(10));
    let _ = poll_once(&mut load);
}

#[test]
fn a_key_in_flight_is_joined_not_loaded_again() {
    let (backend, gate) = Backend::gated();
    let loader = BatchLoader::new(backend.clone());
    let mut first = Box::pin(loader.load(5));
    for _ in 0..100 {
        if backend.started() == 1 {
            break;
        }
        assert!(poll_once(&mut first).is_pending());
    }
    assert_eq!(backend.started(), 1);
    // The call for key 5 is running; a new load of 5 joins it.
    let mut second = Box::pin(loader.load(5));
    assert!(poll_once(&mut second).is_pending());
    assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (1, 1));
    gate.add_permits(1);
    assert!(matches!(poll_once(&mut first), Poll::Ready(Ok(Some(50)))));
    let second = futures_executor::block_on(second);
    assert_eq!(second.unwrap(), Some(50));
    assert_eq!(backend.calls(), vec![vec![5]]);
    assert_idle(&loader);
}

#[test]
fn many_tasks_dropping_at_random_points_leave_nothing_behind() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let (backend, gate) = Backend::gated();
    let loader = BatchLoader::new(backend.clone());
    runtime.block_on(async {
        let tasks: Vec<_> = (0..200u64)
            .map(|i| {
                let loader = loader.clone();
                tokio::spawn(async move { loader.load(100 + i % 50).await })
            })
            .collect();
        for (i, t) in tasks.iter().enumerate() {
            if i % 3 == 0 {
                t.abort();
            }
        }
        gate.add_permits(1_000);
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await {
                Ok(r) => assert_eq!(r.unwrap(), Some((100 + i as u64 % 50) * 10)),
                Err(e) => assert!(e.is_cancelled() && i % 3 == 0),
            }
        }
    });
    assert_idle(&loader);
}

#[test]
fn a_leader_whose_yield_panics_leaves_its_batch_during_the_unwind() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // The leader's second yield panics (a user's yield future is not the
    // batch function: nothing catches it); the others are plain.
    let yields = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&yields);
    let backend = Backend::new();
    let loader = BatchLoader::builder(backend.clone())
        .yield_with(move || {
            let panic_now = counted.fetch_add(1, Ordering::SeqCst) == 1;
            async move {
                assert!(!panic_now, "yield future panicked on purpose");
            }
        })
        .build()
        .unwrap();
    let mut leader = Box::pin(loader.load(1));
    let mut follower = Box::pin(loader.load(2));
    assert!(poll_once(&mut leader).is_pending(), "joins and yields");
    assert!(poll_once(&mut follower).is_pending());
    let unwound = catch_unwind(AssertUnwindSafe(|| poll_once(&mut leader)));
    assert!(unwound.is_err() && yields.load(Ordering::SeqCst) == 2);
    // The leader's future is still alive (a caller may keep a future that
    // panicked), but it left during the unwind: the follower leads now (a
    // few polls: its own yields), rather than waiting for a dead leader.
    let value = (0..100).find_map(|_| match poll_once(&mut follower) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    });
    assert_eq!(value.expect("the follower took over").unwrap(), Some(20));
    assert_eq!(backend.calls(), vec![vec![2]]);
    assert_idle(&loader);
    drop(leader);
    assert_idle(&loader);
}
