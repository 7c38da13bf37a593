//! Failures: a per-key error reaches that key only; a whole-batch error
//! reaches every key as one shared `Arc`; a panic gives every caller
//! `LoadError::Panicked` and the loader keeps working.

mod common;

use std::sync::Arc;

use brace::loader::{BatchLoader, LoadError};
use common::{BAD_KEY, Backend, BackendError, MISSING, PANIC, POISON};
use futures_executor::block_on;
use futures_util::future::join_all;

#[test]
fn missing_key_is_none_and_per_key_error_stays_with_its_key() {
    let backend = Backend::new();
    let loader = BatchLoader::new(backend.clone());
    let results = block_on(join_all([1, MISSING, BAD_KEY, 2].map(|k| loader.load(k))));
    assert_eq!(backend.call_count(), 1);
    assert_eq!(results[0].as_ref().unwrap(), &Some(10));
    assert_eq!(results[1].as_ref().unwrap(), &None);
    match &results[2] {
        Err(LoadError::Key(e)) => assert_eq!(**e, BackendError("bad key")),
        other => panic!("expected a per-key error, got {other:?}"),
    }
    assert_eq!(results[3].as_ref().unwrap(), &Some(20));
}

#[test]
fn whole_batch_error_reaches_every_key_as_one_arc() {
    let backend = Backend::new();
    let loader = BatchLoader::new(backend.clone());
    let results = block_on(join_all([1, POISON, 2, 2].map(|k| loader.load(k))));
    assert_eq!(backend.call_count(), 1);
    let errors: Vec<Arc<BackendError>> = results
        .into_iter()
        .map(|r| match r {
            Err(LoadError::Batch(e)) => e,
            other => panic!("expected a batch error, got {other:?}"),
        })
        .collect();
    assert_eq!(*errors[0], BackendError("poisoned batch"));
    assert!(errors.iter().all(|e| Arc::ptr_eq(e, &errors[0])));
    assert_eq!(
        LoadError::Batch(Arc::clone(&errors[0])).to_string(),
        "the batch function failed for the whole batch: poisoned batch"
    );
    assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (0, 0));
}

#[test]
fn panic_reaches_every_caller_and_the_loader_recovers() {
    let backend = Backend::new();
    let loader = BatchLoader::new(backend.clone());
    let results = block_on(join_all([1, PANIC, 3].map(|k| loader.load(k))));
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(LoadError::Panicked)))
    );
    assert_eq!(loader.stats().batches_panicked, 1);
    assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (0, 0));
    // Next tick: works again, and key 1 is loaded afresh.
    let again = block_on(join_all([1, 3].map(|k| loader.load(k))));
    assert_eq!(again[0].as_ref().unwrap(), &Some(10));
    assert_eq!(again[1].as_ref().unwrap(), &Some(30));
    assert_eq!(backend.calls(), vec![vec![1, 3, PANIC], vec![1, 3]]);
}

#[test]
fn panic_in_a_spawned_task_does_not_hang_other_tasks() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let loader = BatchLoader::new(Backend::new());
    runtime.block_on(async {
        let tasks: Vec<_> = [PANIC, 1, 2, 3]
            .into_iter()
            .map(|k| {
                let loader = loader.clone();
                tokio::spawn(async move { loader.load(k).await })
            })
            .collect();
        for t in tasks {
            // Whichever batch each landed in, nobody hangs and nobody
            // gets a value from a panicked batch.
            match t.await.expect("loader futures never panic") {
                Ok(Some(v)) => assert!(v == 10 || v == 20 || v == 30),
                Err(LoadError::Panicked) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (0, 0));
}
