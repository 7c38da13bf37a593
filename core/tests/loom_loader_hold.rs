//! `hold_stragglers` across threads: a batch led by another thread holds
//! for a partial call that is running. (Loom runs every model thread on
//! one OS thread; with a std thread-local for "inside a batch call", one
//! model thread's call leaked into another's leader, which skipped its
//! hold: 459 overlapping interleavings.)
#![cfg(loom)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};

use brace::loader::{BatchFn, BatchLoader};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone)]
struct Flags {
    a_running: Arc<AtomicBool>,
    b_called: Arc<AtomicBool>,
}

impl BatchFn<u64> for Flags {
    type Value = u64;
    type Error = Infallible;
    type Output = HashMap<u64, u64>;
    async fn load(&self, keys: &[u64]) -> Result<Self::Output, Infallible> {
        if keys.contains(&1) {
            // A's call: running (and partial); give B a few turns while
            // this poll is on the stack.
            self.a_running.store(true, Ordering::SeqCst);
            for _ in 0..3 {
                if self.b_called.load(Ordering::SeqCst) {
                    OVERLAPS.fetch_add(1, StdOrdering::Relaxed);
                    break;
                }
                loom::thread::yield_now();
            }
        } else {
            self.b_called.store(true, Ordering::SeqCst);
        }
        Ok(keys.iter().map(|&k| (k, 10 * k)).collect())
    }
}

static OVERLAPS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn a_leader_on_another_model_thread_holds_for_a_running_partial_call() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let flags = Flags {
            a_running: Arc::new(AtomicBool::new(false)),
            b_called: Arc::new(AtomicBool::new(false)),
        };
        let loader = BatchLoader::builder(flags.clone())
            .yields(1)
            .build()
            .unwrap();
        let other = loader.clone();
        let started = flags.a_running.clone();
        let b = loom::thread::spawn(move || {
            while !started.load(Ordering::SeqCst) {
                loom::thread::yield_now();
            }
            loom::future::block_on(other.load(2)).unwrap()
        });
        assert_eq!(loom::future::block_on(loader.load(1)).unwrap(), Some(10));
        assert_eq!(b.join().unwrap(), Some(20));
    });
    assert_eq!(
        OVERLAPS.load(StdOrdering::Relaxed),
        0,
        "B's batch was called while A's partial call ran (B skipped its hold)"
    );
}
